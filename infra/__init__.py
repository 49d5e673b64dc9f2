"""The CDK app of cryptostream: one construct per capability (see docs/infrastructure.md)."""
