from nexusctl.errors import ExitCode, InputError, Location, PolicyLoadError, VerificationError


def test_exit_codes_separate_findings_from_could_not_run() -> None:
    found = {ExitCode.FINDINGS, ExitCode.VERIFICATION_FAILED, ExitCode.GATE_FAILED}
    broken = {ExitCode.USAGE, ExitCode.INVALID_INPUT, ExitCode.ENVIRONMENT}
    assert not found & broken


def test_policy_load_error_names_file_line_column() -> None:
    err = PolicyLoadError(Location("p.yaml", 3, 7), "duplicate key 'id'")
    assert str(err) == "p.yaml:3:7: duplicate key 'id'"
    assert isinstance(err, InputError)
    assert err.exit_code == ExitCode.INVALID_INPUT


def test_verification_error_carries_reason() -> None:
    err = VerificationError("digest mismatch for a.yaml", reason="file-altered")
    assert err.reason == "file-altered"
    assert err.exit_code == 5
