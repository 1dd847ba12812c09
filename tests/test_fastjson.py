"""engine.fastjson reads what the standard library reads, the same values: orjson where it agrees, the
standard library where orjson would differ (integers beyond 64 bits, NaN) or refuse."""
import math

import pytest

from engine import fastjson


@pytest.mark.parametrize("text", ['{"a": [1, 2.5, "三", null, true]}', b'{"a": 1}', bytearray(b"[1]"), "10"])
def test_it_reads_what_the_standard_library_reads(text):
    import json
    assert fastjson.loads(text) == json.loads(text)


def test_long_integers_stay_exact():
    assert fastjson.loads('{"id": 123456789012345678901234567890}') == {"id": 123456789012345678901234567890}
    assert fastjson.loads(b"[18446744073709551617]") == [18446744073709551617]


def test_nan_is_read_unless_strict():
    assert math.isnan(fastjson.loads('{"x": NaN}')["x"])
    with pytest.raises(ValueError, match="NaN is not a JSON value"):
        fastjson.loads('{"x": NaN}', strict=True)


def test_a_number_is_not_json_text():
    """SQLite hands back a number stored in a JSON column as a number; SQLAlchemy expects a TypeError."""
    with pytest.raises(TypeError):
        fastjson.loads(10)
