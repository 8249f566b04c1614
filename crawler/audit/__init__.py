"""Policy audit of a snapshot's images: rules in YAML, evaluated column-wise, findings out.

A policy is a list of rules; each rule flags images, one finding per (rule, image), with the
rule's severity and message and the values that matched as ``evidence``
(``column=value`` pairs, ``null`` for a missing value).

Modules, in the order data flows:

- ``rules``: the rule types (``RULE_TYPES``), each documenting what it flags; pure.
- ``policy``: reading and validating the policy file into a :class:`Policy`.
- ``evaluate``: which EOL date each image gets, and the findings of a policy; pure.
- ``run``: :func:`audit_snapshot`: read the snapshot, evaluate, write the findings and
  ``audit.json``.

Names with a leading underscore are private to this package, shared between its modules.
"""

from crawler.audit.evaluate import columns_for, evaluate, resolve_eol
from crawler.audit.policy import SEVERITIES, Policy, load_policy, parse_policy
from crawler.audit.rules import (
    RULE_TYPES,
    DiskBusRule,
    MaxAgeRule,
    MinDiskRule,
    OsAllowlistRule,
    OsEolRule,
    RequiredMetadataRule,
    Rule,
    StatusRule,
)
from crawler.audit.run import AUDIT_JSON, FINDINGS, AuditResult, audit_snapshot

__all__ = [
    "AUDIT_JSON",
    "FINDINGS",
    "RULE_TYPES",
    "SEVERITIES",
    "AuditResult",
    "DiskBusRule",
    "MaxAgeRule",
    "MinDiskRule",
    "OsAllowlistRule",
    "OsEolRule",
    "Policy",
    "RequiredMetadataRule",
    "Rule",
    "StatusRule",
    "audit_snapshot",
    "columns_for",
    "evaluate",
    "load_policy",
    "parse_policy",
    "resolve_eol",
]
