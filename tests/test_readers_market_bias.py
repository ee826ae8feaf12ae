"""Market-bias family: quoted CSV with a header, ISO dates as UTC seconds, latest duplicate kept."""

from tests.reader_helpers import assert_dataset, prepare_from_mirror


def test_market_bias_amazon_dates_and_quoted_fields(data_mirror, tmp_path):
    csv = (
        b"item_id,user_id,rating,timestamp,model_attr,category,brand,year,user_attr,split\n"
        b"0,0,5,1999-06-13,Female,Portable Audio & Video,,1999,,0\n"
        b"0,1,5,1999-06-14,Female,Portable Audio & Video,,1999,,0\n"
        b'1,0,3,1999-06-15,Female&Male,"Headphones, Earbuds",Sony,1999,Male,0\n'
        b'1,0,4,1999-06-20,Female&Male,"Headphones, Earbuds",Sony,1999,Male,1\n'
    )
    dataset = prepare_from_mirror(data_mirror, tmp_path, "MarketBiasAmazon", {"df_electronics.csv": csv})
    assert_dataset(
        dataset, ["0", "1"], ["0", "1"],
        {("0", "0"): 5, ("1", "0"): 5, ("0", "1"): 4},
        {("0", "0"): 929232000, ("1", "0"): 929318400, ("0", "1"): 929836800},
    )


def test_market_bias_modcloth_date_times_with_offset(data_mirror, tmp_path):
    csv = (
        b"item_id,user_id,rating,timestamp,size,fit,user_attr,model_attr,category,brand,year,split\n"
        b"7443,Alex,4,2010-01-21 08:00:00+00:00,,,Small,Small,Dresses,,2012,0\n"
        b"7443,carolyn.agan,3,2011-03-04 11:00:00+01:00,,,Small,Small,Dresses,,2012,0\n"
    )
    dataset = prepare_from_mirror(data_mirror, tmp_path, "MarketBiasModCloth", {"df_modcloth.csv": csv})
    assert_dataset(
        dataset, ["Alex", "carolyn.agan"], ["7443"],
        {("Alex", "7443"): 4, ("carolyn.agan", "7443"): 3},
        {("Alex", "7443"): 1264060800, ("carolyn.agan", "7443"): 1299232800},
    )
