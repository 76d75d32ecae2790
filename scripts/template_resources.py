#!/usr/bin/env python3
"""Counts the resources of the SAM template once transformed, as CloudFormation sees them.

CloudFormation refuses a stack of more than 500 resources, and SAM expands every function
into several (role, permissions, event rules...), so the count of template.yaml itself says
little. This runs the SAM translator in memory, offline: no AWS call, no build (local
CodeUri values become a dummy S3 location). Exits 1 above LIMIT, to keep headroom for
the functions still to come.

    .local/venv/bin/python scripts/template_resources.py template.yaml
"""

import collections
import os
import sys

# The translator reads the region (for ARNs and partitions) from the environment.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

# The ~30 functions still planned (API keys, webhooks, flags, privacy, the console's views)
# at about 2.2 resources each add ~70 to today's ~300: this leaves them room and still
# stops a drift towards CloudFormation's 500.
LIMIT = 400


class OfflinePolicies:
    """Stands in for the IAM-backed ManagedPolicyLoader, so that nothing calls IAM. The
    translator has a bundled map of the AWS managed policies and asks this only for a name
    missing from it, which then passes through as is: the count is the same either way."""

    def load(self):
        return {}


def main(path):
    with open(path, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and "InlineCode" not in props:
            props["CodeUri"] = "s3://template-resources/code.zip"
        elif resource.get("Type") == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = "s3://template-resources/layer.zip"
    # Values for the parameters that have no default, so that none is missing.
    parameters = {
        name: "x" * max(32, int(p.get("MinLength", 1)))
        for name, p in template.get("Parameters", {}).items()
        if "Default" not in p
    }
    output = transform(template, parameters, OfflinePolicies())
    resources = output["Resources"]
    by_type = collections.Counter(r["Type"] for r in resources.values())
    if "-v" in sys.argv:
        for kind, n in by_type.most_common():
            print(f"{n:5d}  {kind}")
    print(f"transformed resources: {len(resources)}")
    # What the HTTP functions cost: each function, its invoke permissions, and its share of
    # the roles (shared by functions whose uses are identical).
    functions = {k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    http = {
        k for k in functions
        if any(r["Type"] == "AWS::Lambda::Permission" and r["Properties"].get("Principal") == "apigateway.amazonaws.com"
               and r["Properties"]["FunctionName"] == {"Ref": k} for r in resources.values())
    }
    permissions = sum(
        1 for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["FunctionName"] in [{"Ref": k} for k in http]
    )
    roles = {str(resources[k]["Properties"]["Role"]) for k in http}
    per_function = (len(http) + permissions + len(roles)) / max(1, len(http))
    print(f"HTTP functions: {len(http)}, with {permissions} invoke permissions and {len(roles)} roles: "
          f"{per_function:.2f} resources each (at most 3)")
    if per_function > 3:
        return 1
    return 1 if len(resources) > LIMIT else 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "-v"]
    sys.exit(main(args[0] if args else "template.yaml"))
