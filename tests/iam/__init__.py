"""Permissions, proven: what each Lambda calls (recorded at botocore) against what its role allows (the template).

- ``recorder``: records every botocore API call, attributed to the handler that made it.
- ``template``: the synthesized template with intrinsic functions resolved to concrete ARNs.
- ``needs``: which IAM actions on which resources a call needs (TransactWriteItems' items, KMS keys),
  and what Lambda itself does with a function's role (runtime logs, tracing, the event source mapping).
- ``policy``: the evaluator: identity and resource policies, wildcards, conditions, explicit Deny.
- ``pipeline_run``: the recorded run of the real handlers on the embedded stack.

``tests/infra/test_permissions.py`` puts them together; docs/infrastructure.md ("Permissions, proven").
"""
