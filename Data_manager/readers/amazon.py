"""Amazon product ratings (McAuley et al., 2014), one dataset per product category.

Source: the "ratings only" file of each category, ``ratings_<Category>.csv`` on SNAP:
no header, one ``user,item,rating,timestamp`` line per review (ASIN item ids, 1-5
stars, unix seconds). The reference also fetched ``meta_<Category>.json.gz`` for item
features; the standard format holds no item features, so it is not downloaded. The
reference asserted that no (user, item) pair repeats; a repeat is an error here too.
"""

from Data_manager.download import Source
from Data_manager.readers.base import InteractionBuilder, Reader, add_rows, open_text

URL = "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/ratings_{}.csv"

# Dataset name suffix -> category as spelled in the file name (the reference's final list).
CATEGORIES = {
    "AllBeauty": "All_Beauty",
    "AllElectronics": "All_Electronics",
    "AlternativeRock": "Alternative_Rock",
    "AmazonFashion": "Amazon_Fashion",
    "AmazonInstantVideo": "Amazon_Instant_Video",
    "Appliances": "Appliances",
    "AppsforAndroid": "Apps_for_Android",
    "AppstoreforAndroid": "Appstore_for_Android",
    "ArtsCraftsSewing": "Arts_Crafts_and_Sewing",
    "Automotive": "Automotive",
    "Baby": "Baby",
    "BabyProducts": "Baby_Products",
    "Beauty": "Beauty",
    "Blues": "Blues",
    "Books": "Books",
    "BuyaKindle": "Buy_a_Kindle",
    "CDsVinyl": "CDs_and_Vinyl",
    "CellPhonesAccessories": "Cell_Phones_and_Accessories",
    "Christian": "Christian",
    "Classical": "Classical",
    "ClothingShoesJewelry": "Clothing_Shoes_and_Jewelry",
    "CollectiblesFineArt": "Collectibles_and_Fine_Art",
    "Computers": "Computers",
    "Country": "Country",
    "DanceElectronic": "Dance_and_Electronic",
    "Davis": "Davis",
    "DigitalMusic": "Digital_Music",
    "Electronics": "Electronics",
    "Folk": "Folk",
    "GiftCards": "Gift_Cards",
    "Gospel": "Gospel",
    "GroceryGourmetFood": "Grocery_and_Gourmet_Food",
    "HardRockMetal": "Hard_Rock_and_Metal",
    "HealthPersonalCare": "Health_and_Personal_Care",
    "HomeImprovement": "Home_Improvement",
    "HomeKitchen": "Home_and_Kitchen",
    "IndustrialScientific": "Industrial_and_Scientific",
    "International": "International",
    "Jazz": "Jazz",
    "KindleStore": "Kindle_Store",
    "KitchenDining": "Kitchen_and_Dining",
    "LatinMusic": "Latin_Music",
    "LuxuryBeauty": "Luxury_Beauty",
    "MP3PlayersAccessories": "MP3_Players_and_Accessories",
    "MagazineSubscriptions": "Magazine_Subscriptions",
    "Miscellaneous": "Miscellaneous",
    "MoviesTV": "Movies_and_TV",
    "MusicalInstruments": "Musical_Instruments",
    "NewAge": "New_Age",
    "OfficeProducts": "Office_Products",
    "OfficeSchoolSupplies": "Office_and_School_Supplies",
    "PatioLawnGarden": "Patio_Lawn_and_Garden",
    "PetSupplies": "Pet_Supplies",
    "Pop": "Pop",
    "PurchaseCircles": "Purchase_Circles",
    "RB": "RandB",
    "RapHipHop": "Rap_and_Hip-Hop",
    "Rock": "Rock",
    "Software": "Software",
    "SportsOutdoors": "Sports_and_Outdoors",
    "ToolsHomeImprovement": "Tools_and_Home_Improvement",
    "ToysGames": "Toys_and_Games",
    "VideoGames": "Video_Games",
    "Wine": "Wine",
}

# Size classes are estimates from the published per-category counts; the niche
# categories below are believed to hold under 100,000 ratings, the others between
# 100,000 and 10,000,000 (Books: 22.5 million).
LARGE = frozenset({"Books"})
SMALL = frozenset({"BuyaKindle", "Davis", "GiftCards", "MagazineSubscriptions", "PurchaseCircles", "Wine"})


def _parser(filename: str):
    def parse(files):
        builder = InteractionBuilder(has_timestamps=True)
        with open_text(files[filename]) as (label, text):
            add_rows(builder, text, label, separator=",", columns=(0, 1, 2, 3))
        return builder

    return parse


def _reader(key: str, category: str) -> Reader:
    filename = f"ratings_{category}.csv"
    return Reader(
        name=f"Amazon{key}",
        family="Amazon",
        size_class="large" if key in LARGE else "small" if key in SMALL else "medium",
        sources=(Source(filename, URL.format(category)),),
        parse=_parser(filename),
    )


READERS = tuple(_reader(key, category) for key, category in CATEGORIES.items())
