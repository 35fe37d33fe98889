#!/usr/bin/env python3
"""The fewest AWS API calls a drift check of the stacks in a state folder can make, by operation,
beside the calls it made (the `--stats` table of `clawform drift --all --stats`).

    scripts/bench_floor.py STATE_DIR DRIFT_STATS_FILE

The floor of an operation is ceil(items / batch) with AWS's documented batch size of that call
(the same constants as crates/aws/src/*/mod.rs), where one call can serve several resource types
(ELBv2 DescribeTags takes load balancer, listener, target group and rule ARNs together; one
DescribeRouteTables answers route tables and their associations; one ListSecrets page lists a
secret with its versions). APIs with no batch form (IAM, one attribute per DescribeVpcAttribute)
cost one call per item. Prints a Markdown table; its last row is the total.
"""

import glob
import json
import math
import re
import sys
from collections import Counter

# Types the Resource Groups Tagging API returns (crates/aws/src/owned.rs: type_and_id).
TAGGABLE = {
    "aws_vpc", "aws_subnet", "aws_internet_gateway", "aws_route_table", "aws_security_group",
    "aws_nat_gateway", "aws_eip", "aws_launch_template", "aws_lb", "aws_lb_target_group",
    "aws_lb_listener", "aws_lb_listener_rule", "aws_ecs_cluster", "aws_ecs_capacity_provider",
    "aws_ecs_task_definition", "aws_ecs_service", "aws_secretsmanager_secret",
    "aws_cloudwatch_log_group", "aws_ecr_repository", "aws_autoscaling_group", "aws_iam_role",
    "aws_iam_instance_profile",
}


def load(state_dir):
    types, roles_with_attachments, clusters_of_services = Counter(), set(), Counter()
    for path in glob.glob(f"{state_dir}/*.json"):
        with open(path) as f:
            state = json.load(f)
        for r in state.get("resources", []):
            types[r["type"]] += 1
            if r["type"] == "aws_iam_role_policy_attachment":
                roles_with_attachments.add(r["attributes"].get("role"))
            if r["type"] == "aws_ecs_service":
                clusters_of_services[r["attributes"].get("cluster")] += 1
    return types, roles_with_attachments, clusters_of_services


def floors(types, roles_with_attachments, clusters_of_services):
    t = types.__getitem__
    batch = lambda items, size: math.ceil(items / size) if items else 0
    services = sum(batch(n, 10) for n in clusters_of_services.values())
    # (operation as --stats names it, floor, how)
    return [
        ("Auto Scaling DescribeAutoScalingGroups", batch(t("aws_autoscaling_group"), 100), "100 names a call"),
        ("CloudWatch Logs DescribeLogGroups", batch(t("aws_cloudwatch_log_group"), 50), "50 a page"),
        ("CloudWatch Logs ListTagsForResource", t("aws_cloudwatch_log_group"), "one per log group"),
        ("EC2 DescribeAddresses", batch(t("aws_eip"), 200), "200 filter values"),
        ("EC2 DescribeInternetGateways", batch(t("aws_internet_gateway"), 200), "200 filter values"),
        ("EC2 DescribeLaunchTemplates", batch(t("aws_launch_template"), 200), "200 filter values"),
        ("EC2 DescribeLaunchTemplateVersions", t("aws_launch_template"), "one per template"),
        ("EC2 DescribeNatGateways", batch(t("aws_nat_gateway"), 200), "200 filter values"),
        ("EC2 DescribeRouteTables", batch(t("aws_route_table") + t("aws_route_table_association"), 200), "tables and associations together"),
        ("EC2 DescribeSecurityGroups", batch(t("aws_security_group"), 200), "200 filter values"),
        ("EC2 DescribeSubnets", batch(t("aws_subnet"), 200), "200 filter values"),
        ("EC2 DescribeTags", batch(t("aws_launch_template") + t("aws_eip"), 200), "200 filter values"),
        ("EC2 DescribeVpcAttribute", 2 * t("aws_vpc"), "one attribute a call, two per VPC"),
        ("EC2 DescribeVpcs", batch(t("aws_vpc"), 200), "200 filter values"),
        ("ECR DescribeRepositories", batch(t("aws_ecr_repository"), 100), "100 names a call"),
        ("ECR GetLifecyclePolicy", t("aws_ecr_lifecycle_policy"), "one per policy"),
        ("ECR ListTagsForResource", t("aws_ecr_repository"), "one per repository"),
        ("ECS DescribeCapacityProviders", batch(t("aws_ecs_capacity_provider"), 100), "100 a call"),
        ("ECS DescribeClusters", batch(t("aws_ecs_cluster") + t("aws_ecs_cluster_capacity_providers"), 100), "clusters and their capacity providers together"),
        ("ECS DescribeServices", services, "10 a call, per cluster"),
        ("ECS DescribeTaskDefinition + ListTaskDefinitions", batch(t("aws_ecs_task_definition"), 100), "existence in pages of 100 (revisions are immutable)"),
        ("Elastic Load Balancing v2 DescribeListeners", batch(t("aws_lb_listener"), 20), "20 ARNs a call"),
        ("Elastic Load Balancing v2 DescribeLoadBalancerAttributes", t("aws_lb"), "one per load balancer"),
        ("Elastic Load Balancing v2 DescribeLoadBalancers", batch(t("aws_lb"), 20), "20 ARNs a call"),
        ("Elastic Load Balancing v2 DescribeRules", batch(t("aws_lb_listener_rule"), 20), "20 ARNs a call"),
        ("Elastic Load Balancing v2 DescribeTags", batch(t("aws_lb") + t("aws_lb_listener") + t("aws_lb_target_group") + t("aws_lb_listener_rule"), 20), "20 ARNs a call, any ELB type"),
        ("Elastic Load Balancing v2 DescribeTargetGroups", batch(t("aws_lb_target_group"), 20), "20 ARNs a call"),
        ("IAM GetInstanceProfile", t("aws_iam_instance_profile"), "no batch API"),
        ("IAM GetRole", t("aws_iam_role"), "no batch API"),
        ("IAM GetRolePolicy", t("aws_iam_role_policy"), "no batch API"),
        ("IAM ListAttachedRolePolicies", len(roles_with_attachments), "one per role with attachments"),
        ("Resource Groups Tagging API GetResources", batch(sum(n for k, n in types.items() if k in TAGGABLE), 100), "unmanaged resources: 100 a page"),
        ("STS GetCallerIdentity", 1, "the account id, once"),
        ("Secrets Manager ListSecrets + DescribeSecret", batch(t("aws_secretsmanager_secret") or t("aws_secretsmanager_secret_version"), 10), "10 names a call, secrets with their versions"),
    ]


def measured(stats_file):
    out = Counter()
    with open(stats_file) as f:
        for line in f:
            m = re.match(r"^\s+(.+?)\s+(\d+) calls\s+\d+ attempts", line)
            if m and m.group(1) != "total":
                out[m.group(1)] += int(m.group(2))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    types, roles, clusters = load(sys.argv[1])
    calls = measured(sys.argv[2])
    rows, seen = [], set()
    for op, floor, how in floors(types, roles, clusters):
        # "ECS DescribeTaskDefinition + ListTaskDefinitions" counts both operations of the service.
        service = op.split(" + ")[0].rsplit(" ", 1)[0]
        names = [op.split(" + ")[0]] + [f"{service} {x}" for x in op.split(" + ")[1:]]
        made = sum(calls.get(n, 0) for n in names)
        seen.update(names)
        if made or floor:
            rows.append((op, made, floor, how))
    for op, made in sorted(calls.items()):
        if op not in seen:
            rows.append((op, made, made, "not modelled: counted as its own floor"))
    total_made = sum(r[1] for r in rows)
    total_floor = sum(r[2] for r in rows)
    print("| operation | calls | floor | floor's rule |")
    print("|---|---:|---:|---|")
    for op, made, floor, how in rows:
        flag = " **(over 1.5×)**" if floor and made > 1.5 * floor else ""
        print(f"| {op} | {made}{flag} | {floor} | {how} |")
    print(f"| **total** | **{total_made}** | **{total_floor}** | ratio {total_made / max(total_floor, 1):.2f}× |")


if __name__ == "__main__":
    main()
