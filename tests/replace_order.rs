//! Replacement order on moto: a replacement whose new resource can live beside the old one (its
//! name changed) is created first, what uses it moves to it, and the old one is deleted last.
//! moto, like AWS, refuses to delete a target group a listener rule still forwards to, so
//! delete-then-create could not get through this apply at all.

use crate::common::{sdk_config, Project};

fn stack(target_group_name: &str) -> String {
    format!(
        r#"stack: web
resources:
  vpc: {{ type: aws_vpc, cidr_block: 10.40.0.0/16 }}
  a: {{ type: aws_subnet, vpc_id: "${{vpc.id}}", cidr_block: 10.40.1.0/24, availability_zone: us-west-2a }}
  b: {{ type: aws_subnet, vpc_id: "${{vpc.id}}", cidr_block: 10.40.2.0/24, availability_zone: us-west-2b }}
  lb:
    type: aws_lb
    name: web-lb
    load_balancer_type: application
    subnets: ["${{a.id}}", "${{b.id}}"]
  http:
    type: aws_lb_listener
    load_balancer_arn: ${{lb.arn}}
    port: 80
    protocol: HTTP
    default_action:
      - type: fixed-response
        fixed_response: [{{ content_type: text/plain, message_body: none, status_code: "404" }}]
  tg:
    type: aws_lb_target_group
    name: {target_group_name}
    port: 8080
    protocol: HTTP
    target_type: ip
    vpc_id: ${{vpc.id}}
  rule:
    type: aws_lb_listener_rule
    listener_arn: ${{http.arn}}
    priority: 10
    condition: [{{ path_pattern: [{{ values: ["/app/*"] }}] }}]
    action: [{{ type: forward, target_group_arn: "${{tg.arn}}" }}]
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_target_group_is_created_before_the_old_one_is_deleted() {
    let project = Project::new();
    project.write_stack("web", &stack("web-blue"));
    project.ok(&["apply", "web", "--auto-approve"], 0);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config(&project.moto).await);
    let old = elb.describe_target_groups().names("web-blue").send().await.unwrap().target_groups()[0].target_group_arn().unwrap().to_string();

    project.write_stack("web", &stack("web-green"));
    let plan = project.ok(&["plan", "web", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("tg must be replaced (the new one is created before the old one is destroyed)"), "{}", plan.stdout);
    let json = project.ok(&["plan", "web", "--json"], 0);
    let plan_json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let tg = plan_json["resource_changes"].as_array().unwrap().iter().find(|c| c["address"] == "aws_lb_target_group.tg").unwrap();
    assert_eq!(tg["change"]["actions"], serde_json::json!(["create", "delete"]));

    project.ok(&["apply", "web", "--auto-approve"], 0);
    assert!(elb.describe_target_groups().names("web-blue").send().await.is_err(), "the old target group is gone");
    let new = elb.describe_target_groups().names("web-green").send().await.unwrap().target_groups()[0].target_group_arn().unwrap().to_string();
    assert_ne!(new, old);
    let state = project.state("web");
    let listener = state["resources"].as_array().unwrap().iter().find(|r| r["address"] == "http").unwrap()["id"].as_str().unwrap().to_string();
    let rules = elb.describe_rules().listener_arn(&listener).send().await.unwrap();
    let forwards: Vec<&str> = rules.rules().iter().flat_map(|r| r.actions()).filter_map(|a| a.target_group_arn()).collect();
    assert_eq!(forwards, [new.as_str()], "the rule forwards to the new target group");
    assert!(state.get("deposed").is_none(), "nothing left deposed: {state}");
    project.ok(&["plan", "web", "--detailed-exitcode"], 0);

    // An explicit priority is the user's, not the cloud's: changing it is an update in place.
    project.write_stack("web", &stack("web-green").replace("priority: 10", "priority: 20"));
    let plan = project.ok(&["plan", "web", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("rule will be updated in-place"), "{}", plan.stdout);
    project.ok(&["apply", "web", "--auto-approve"], 0);
    let rules = elb.describe_rules().listener_arn(&listener).send().await.unwrap();
    let priorities: Vec<&str> = rules.rules().iter().filter(|r| !r.is_default().unwrap_or(false)).filter_map(|r| r.priority()).collect();
    assert_eq!(priorities, ["20"]);
    project.ok(&["plan", "web", "--detailed-exitcode"], 0);

    // Keeping the name but changing the port would make two target groups of one name: the
    // old one must go first, and AWS refuses that while the rule uses it. The plan says so.
    project.write_stack("web", &stack("web-green").replace("port: 8080", "port: 9090"));
    let plan = project.ok(&["plan", "web"], 0);
    assert!(plan.stdout.contains("# tg must be replaced\n"), "{}", plan.stdout);
}
