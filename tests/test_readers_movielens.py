"""MovieLens family: 100K, 1M, 10M, 20M and HetRec 2011, each from its real zip layout."""

from tests.reader_helpers import assert_dataset, prepare_from_mirror, zip_bytes


def test_movielens_100k_tab_separated(data_mirror, tmp_path):
    archive = zip_bytes({
        "ml-100k/u.item": b"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com\n",
        "ml-100k/u.data": b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t4\t881250950\n",
    })
    dataset = prepare_from_mirror(data_mirror, tmp_path, "Movielens100K", {"ml-100k.zip": archive})
    assert_dataset(
        dataset, ["196", "186"], ["242", "302"],
        {("196", "242"): 3, ("186", "302"): 3, ("196", "302"): 4},
        {("196", "242"): 881250949, ("186", "302"): 891717742, ("196", "302"): 881250950},
    )


def test_movielens_1m_catalogues_double_colon_and_latin1(data_mirror, tmp_path):
    archive = zip_bytes({
        "ml-1m/movies.dat": "1::Toy Story (1995)::Animation\n2::Jumanji (1995)::Adventure\n"
                            "3::Café au lait (1993)::Comedy\n".encode("latin-1"),
        "ml-1m/users.dat": b"1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n",
        # movie 9 and user 7 are outside the catalogues: ignored, as in the reference
        "ml-1m/ratings.dat": b"1::1::5::978300760\n1::3::3::978302109\n2::1::4::978298413\n"
                             b"3::9::2::978299000\n7::1::1::978299001\n",
    })
    dataset = prepare_from_mirror(data_mirror, tmp_path, "Movielens1M", {"ml-1m.zip": archive})
    assert_dataset(
        dataset, ["1", "2", "3"], ["1", "2", "3"],
        {("1", "1"): 5, ("1", "3"): 3, ("2", "1"): 4},
        {("1", "1"): 978300760, ("1", "3"): 978302109, ("2", "1"): 978298413},
    )


def test_movielens_10m_item_catalogue_and_half_stars(data_mirror, tmp_path):
    archive = zip_bytes({
        "ml-10M100K/movies.dat": b"1::Toy Story (1995)::Adventure|Animation\n2::Jumanji (1995)::Adventure\n",
        "ml-10M100K/ratings.dat": b"5::1::4.5::838985046\n5::2::0.5::838983525\n9::1::3::838983421\n9::4::5::1\n",
    })
    dataset = prepare_from_mirror(data_mirror, tmp_path, "Movielens10M", {"ml-10m.zip": archive})
    assert_dataset(
        dataset, ["5", "9"], ["1", "2"],
        {("5", "1"): 4.5, ("5", "2"): 0.5, ("9", "1"): 3},
        {("5", "1"): 838985046, ("5", "2"): 838983525, ("9", "1"): 838983421},
    )


def test_movielens_20m_csv_headers_and_quoted_titles(data_mirror, tmp_path):
    archive = zip_bytes({
        "ml-20m/movies.csv": 'movieId,title,genres\n1,Toy Story (1995),Adventure\n'
                             '2,"City of Lost Children, The (Cité des enfants perdus, La) (1995)",Drama\n'
                             '3,Grumpier Old Men (1995),Comedy\n'.encode(),
        "ml-20m/ratings.csv": b"userId,movieId,rating,timestamp\n"
                              b"1,2,3.5,1112486027\n1,3,3.5,1112484676\n2,2,4.0,974820889\n",
    })
    dataset = prepare_from_mirror(data_mirror, tmp_path, "Movielens20M", {"ml-20m.zip": archive})
    assert_dataset(
        dataset, ["1", "2"], ["1", "2", "3"],
        {("1", "2"): 3.5, ("1", "3"): 3.5, ("2", "2"): 4},
        {("1", "2"): 1112486027, ("1", "3"): 1112484676, ("2", "2"): 974820889},
    )


def test_movielens_hetrec_header_and_extra_columns(data_mirror, tmp_path):
    archive = zip_bytes({
        "user_ratedmovies.dat": b"userID\tmovieID\trating\tdate_day\tdate_month\tdate_year\t"
                                b"date_hour\tdate_minute\tdate_second\n"
                                b"75\t3\t1\t29\t10\t2006\t23\t17\t16\n75\t32\t4.5\t29\t10\t2006\t23\t23\t44\n"
                                b"78\t3\t3.5\t13\t6\t2003\t1\t2\t3\n",
    })
    files = {"hetrec2011-movielens-2k-v2.zip": archive}
    dataset = prepare_from_mirror(data_mirror, tmp_path, "MovielensHetrec2011", files)
    assert_dataset(dataset, ["75", "78"], ["3", "32"], {("75", "3"): 1, ("75", "32"): 4.5, ("78", "3"): 3.5})
