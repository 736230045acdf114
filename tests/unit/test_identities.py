from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64, Mpan, Mprn, mpan_check_digit


@pytest.mark.parametrize(
    "spelling",
    [
        "90-B3-D5-1F-30-01-00-00",
        "90b3d51f30010000",
        "90:b3:d5:1f:30:01:00:00",
        "90 B3 D5 1F 30 01 00 00",
        " 90B3D51F30010000 ",
    ],
)
def test_an_eui64_is_accepted_in_common_spellings_and_rendered_canonically(spelling: str) -> None:
    assert str(Eui64.parse(spelling)) == "90-B3-D5-1F-30-01-00-00"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "90-B3-D5-1F-30-01-00",
        "90-B3-D5-1F-30-01-00-0G",
        "90-B3:D5-1F-30-01-00-00",
        "90B3D51F300100000",
        "xyz",
    ],
)
def test_a_malformed_eui64_is_refused_with_the_expected_shape_named(bad: str) -> None:
    with pytest.raises(InvalidIdentity, match="16 hex digits"):
        Eui64.parse(bad)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_an_eui64_round_trips_through_its_integer_value(number: int) -> None:
    eui = Eui64.from_int(number)
    assert int(eui.hex, 16) == number
    assert Eui64.parse(eui.hex) == eui


def test_a_known_mpan_core_passes_its_check_digit() -> None:
    # 1200023305967 is the widely published example MPAN core
    assert Mpan.parse("1200023305967").core == "1200023305967"


def test_an_mpan_with_a_wrong_check_digit_is_refused_naming_the_right_digit() -> None:
    with pytest.raises(InvalidIdentity, match="should be 7"):
        Mpan.parse("1200023305961")


@pytest.mark.parametrize("bad", ["120002330596", "12000233059671", "12000233059A7", ""])
def test_an_mpan_that_is_not_13_digits_is_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentity, match="13 digits"):
        Mpan.parse(bad)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_any_twelve_digits_complete_into_a_valid_mpan_and_a_changed_digit_breaks_it(
    digits: str,
) -> None:
    mpan = Mpan.with_check_digit(digits)
    assert mpan.core[-1] == str(mpan_check_digit(digits))
    wrong = str((int(mpan.core[-1]) + 1) % 10)
    with pytest.raises(InvalidIdentity):
        Mpan.parse(mpan.core[:-1] + wrong)


@given(st.text(alphabet="0123456789", min_size=4, max_size=8))
def test_an_mprn_completed_with_its_check_digits_parses_and_a_changed_check_fails(
    leading: str,
) -> None:
    mprn = Mprn.with_check_digits(leading)
    assert Mprn.parse(mprn.value) == mprn
    bad_check = f"{(int(mprn.value[-2:]) + 1) % 100:02d}"
    with pytest.raises(InvalidIdentity, match="check digits"):
        Mprn.parse(leading + bad_check)


@pytest.mark.parametrize("bad", ["12345", "12345678901", "12a456"])
def test_an_mprn_of_the_wrong_shape_is_refused(bad: str) -> None:
    with pytest.raises(InvalidIdentity, match="6 to 10 digits"):
        Mprn.parse(bad)
