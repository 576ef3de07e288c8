from models.exit_ids import ExitOrderRef, exit_id, exit_order_id, read_exit_order_id


def test_an_exit_orders_id_reads_back_to_its_position_exit_and_attempt():
    pid = "pos-sim-nfl-sea-at-bal-2-sig-018"
    for stage in (None, 0, 1):
        eid = exit_id(pid, "3fa9c1r2", 12, stage)
        assert read_exit_order_id(exit_order_id(eid, 3)) == ExitOrderRef(pid, eid, 3)
    assert exit_id("p1", "ab12", 1, 1) == "p1-ab12x1p1"


def test_an_entrys_id_or_a_foreign_one_is_not_an_exits():
    assert read_exit_order_id("en-sig-x1-1") is None         # an entry, whatever its signal id looks like
    assert read_exit_order_id("pos1-abcx1") is None          # an exit id without its attempt
    assert read_exit_order_id("manual-order-7") is None
