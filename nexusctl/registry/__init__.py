"""A git-backed registry that promotes signed bundles dev -> staging -> prod behind gates.

Public names:

- ``RegistryConfig`` (``config``): the registry's signed configuration, its root of trust.
- ``PromotionPredicate`` (``records``): the predicate of every signed record in the log.
- ``init_registry``, ``publish``, ``approve``, ``promote``, ``rollback`` (``ops``): events.
- ``propose``, ``sign_proposal``, ``apply`` (``configchange``): threshold-signed config changes.
- ``status``, ``history`` (``query``), ``verify_registry`` (``verify``), ``resolve``
  (``resolve``): read-only views; ``resolve`` is a python-tuf client.
- ``diff_environments``, ``policy_changes`` (``diff``): two environments' live sets compared
  as policies (routes, guardrails, limits... field by field).

Heavy libraries (git, cryptography, tuf) are imported inside functions.
"""
