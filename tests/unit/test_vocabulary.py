"""The shared vocabulary and its mirrors: one list of purposes (likeness_common.purposes) for the API's enum, the consent
domain's, the Verify command's validation and the console's consent form."""

from consent.domain.model import Purpose
from likeness.consent.v1 import consent_pb2 as cpb
from likeness_common import purposes
from verification.domain.commands import PURPOSES


def test_the_api_enum_and_the_consent_domain_name_exactly_the_shared_purposes():
    api = [name.removeprefix("PURPOSE_") for name in cpb.Purpose.keys() if name != "PURPOSE_UNSPECIFIED"]
    assert api == list(purposes.ALL)
    assert [p.value for p in Purpose] == list(purposes.ALL)


def test_verify_and_the_console_take_theirs_from_it():
    from console.domain.model import PURPOSES as FORM

    assert PURPOSES is purposes.ALL
    assert FORM == [p.lower() for p in purposes.NAMED] and "custom" not in FORM


def test_one_modality_for_every_domain_and_the_api():
    from consent.domain.model import Modality as ConsentModality
    from enrollment.domain.model import Modality as EnrollmentModality
    from likeness.enrollment.v1 import enrollment_pb2 as epb
    from likeness_common.modality import Modality
    from verification.domain.model import Modality as VerificationModality

    assert ConsentModality is EnrollmentModality is VerificationModality is Modality
    assert [n.removeprefix("MODALITY_") for n in epb.Modality.keys() if n != "MODALITY_UNSPECIFIED"] == [m.value for m in Modality]
