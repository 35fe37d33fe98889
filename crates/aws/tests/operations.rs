//! The tenant operations (`clawform_aws::operations`) on moto: services read in batches of 10 in
//! the order asked, a forced deployment, a log tail that returns each event once.

use clawform_aws::operations::{deploy, log_tail::LogTail, service_status};
use clawform_aws::Clients;
use clawform_testkit::unique;

use crate::support::moto_config;

fn calls(clients: &Clients, operation: &str) -> u64 {
    clients.stats.snapshot().iter().filter(|((_, op), _)| op == operation).map(|(_, s)| s.calls).sum()
}

#[tokio::test]
async fn services_are_read_ten_a_call_in_the_order_asked_and_redeployed() {
    let config = moto_config().await;
    let ecs = aws_sdk_ecs::Client::new(&config);
    let cluster = unique("ops");
    ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
    let container = aws_sdk_ecs::types::ContainerDefinition::builder().name("app").image("nginx").memory(128).build();
    let td = ecs.register_task_definition().family(&cluster).container_definitions(container).send().await.unwrap();
    let td = td.task_definition().unwrap().task_definition_arn().unwrap().to_string();
    let mut names = Vec::new();
    for i in 0..12 {
        let name = format!("svc-{i}");
        ecs.create_service().cluster(&cluster).service_name(&name).task_definition(&td).desired_count(i % 2).send().await.unwrap();
        names.push(name);
    }
    names.insert(5, "no-such-service".into());
    let clients = Clients::from_config(&config);
    let read = service_status::describe_services(&clients, &cluster, &names).await.unwrap();
    assert_eq!(calls(&clients, "DescribeServices"), 2, "13 services: two calls of at most 10");
    assert_eq!(read.len(), 13);
    assert!(read[5].is_none(), "a missing service is None, in its place");
    for (name, status) in names.iter().zip(&read).filter(|(n, _)| n.as_str() != "no-such-service") {
        let status = status.as_ref().unwrap();
        assert_eq!(&status.name, name);
        let i: i32 = name.trim_start_matches("svc-").parse().unwrap();
        assert_eq!(status.desired, i % 2);
        assert!(status.deployment.as_ref().unwrap().id.starts_with("ecs-svc/"));
    }

    // A stopped task is reported for its own service only (by task group `service:<name>`).
    let task =
        ecs.run_task().cluster(&cluster).task_definition(&td).launch_type(aws_sdk_ecs::types::LaunchType::Fargate).group("service:svc-1").send().await.unwrap();
    let task_arn = task.tasks()[0].task_arn().unwrap().to_string();
    ecs.stop_task().cluster(&cluster).task(&task_arn).reason("Essential container in task exited").send().await.unwrap();
    let stopped = service_status::stopped_tasks(&clients, &cluster, "svc-1").await.unwrap();
    assert_eq!(stopped.len(), 1);
    assert_eq!((stopped[0].arn.as_str(), stopped[0].stopped_reason.as_deref()), (task_arn.as_str(), Some("Essential container in task exited")));
    assert!(service_status::stopped_tasks(&clients, &cluster, "svc-3").await.unwrap().is_empty(), "another service's task is not this one's");

    let before = read[0].as_ref().unwrap().deployment.clone().unwrap().id;
    let after = deploy::force_new_deployment(&clients, &cluster, "svc-0").await.unwrap().unwrap();
    assert_ne!(before, after);
    let again = service_status::describe_services(&clients, &cluster, &["svc-0".to_string()]).await.unwrap();
    assert_eq!(again[0].as_ref().unwrap().deployment.as_ref().unwrap().id, after);
}

#[tokio::test]
async fn a_log_tail_returns_its_prefix_oldest_first_each_event_once() {
    let config = moto_config().await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let group = format!("/ops/{}", unique("tail"));
    logs.create_log_group().log_group_name(&group).send().await.unwrap();
    let put = |stream: &'static str, events: Vec<(i64, &'static str)>| {
        let logs = logs.clone();
        let group = group.clone();
        async move {
            let _ = logs.create_log_stream().log_group_name(&group).log_stream_name(stream).send().await;
            let events: Vec<_> =
                events.into_iter().map(|(t, m)| aws_sdk_cloudwatchlogs::types::InputLogEvent::builder().timestamp(t).message(m).build().unwrap()).collect();
            logs.put_log_events().log_group_name(&group).log_stream_name(stream).set_log_events(Some(events)).send().await.unwrap();
        }
    };
    let t0 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 - 60_000;
    put("t1/app/a", vec![(t0 - 10_000, "too old"), (t0 + 2_000, "a2")]).await;
    put("t1/app/b", vec![(t0 + 1_000, "b1")]).await;
    put("t10/app/c", vec![(t0 + 1_500, "another tenant whose id starts alike")]).await;
    let clients = Clients::from_config(&config);
    let mut tail = LogTail::new(&group, "t1/", t0);
    let first: Vec<String> = tail.next(&clients).await.unwrap().into_iter().map(|e| e.message).collect();
    assert_eq!(first, ["b1", "a2"]);
    assert!(tail.next(&clients).await.unwrap().is_empty(), "nothing twice");
    // An event of the same millisecond as the last one read, arriving later, still comes.
    put("t1/app/b", vec![(t0 + 2_000, "b2 same ms"), (t0 + 3_000, "b3")]).await;
    let next: Vec<String> = tail.next(&clients).await.unwrap().into_iter().map(|e| e.message).collect();
    assert_eq!(next, ["b2 same ms", "b3"]);
}
