"""A git-backed registry that promotes signed bundles dev -> staging -> prod behind gates.

Public names:

- ``RegistryConfig`` (``config``): the registry's signed configuration, its root of trust.
- ``PromotionPredicate`` (``records``): the predicate of every signed record in the log.
- ``init_registry``, ``publish``, ``approve``, ``promote``, ``rollback`` (``ops``): events.
- ``propose``, ``sign_proposal``, ``apply`` (``configchange``): threshold-signed config changes,
  which rotate each environment's TUF root (``tufroots``) and may bring a new trust policy,
  pinned file by file (``trustfiles``).
- ``status``, ``history`` (``query``), ``verify_registry`` (``verify``), ``resolve``
  (``resolve``): read-only views; ``resolve`` is a python-tuf client.
- ``diff_environments``, ``policy_changes`` (``diff``): two environments' live sets compared
  as policies (routes, guardrails, limits... field by field).
- ``Session`` (``bulk``): many events in one process (one commit per event, streamed through
  ``git fast-import``), for building or importing large registries; the CLI never uses it.
- ``Simulate`` (``ops``) with ``simulate_for_promotion`` (``simulation``): ``promote
  --simulate``. ``check_commit_signatures`` (``commits``): SSH-signed commits.

Heavy libraries (git, cryptography, tuf) are imported inside functions.
"""
