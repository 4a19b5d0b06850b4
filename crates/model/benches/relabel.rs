//! Relabeling throughput: a typical Kubernetes-style target relabeling chain and a
//! metric_relabel_configs drop rule, over many label sets.

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ember_model::relabel::{Action, RelabelConfig, process};
use ember_model::{Labels, Regex};
use std::hint::black_box;

fn target_labels(n: usize) -> Vec<Labels> {
    (0..n)
        .map(|i| {
            Labels::from_pairs([
                (
                    "__address__".to_string(),
                    format!("10.0.{}.{}:8080", i / 250, i % 250),
                ),
                (
                    "__meta_kubernetes_namespace".into(),
                    format!("ns-{}", i % 7),
                ),
                ("__meta_kubernetes_pod_name".into(), format!("pod-{i}")),
                (
                    "__meta_kubernetes_pod_label_app".into(),
                    format!("app-{}", i % 13),
                ),
                (
                    "__meta_kubernetes_pod_annotation_prometheus_io_scrape".into(),
                    if i % 3 == 0 { "false" } else { "true" }.into(),
                ),
                (
                    "__meta_kubernetes_pod_container_port_number".into(),
                    "8080".into(),
                ),
                ("job".into(), "kubernetes-pods".into()),
            ])
        })
        .collect()
}

fn rules() -> Vec<RelabelConfig> {
    let re = |s: &str| Some(Regex::new(s).expect("bench pattern compiles"));
    vec![
        RelabelConfig {
            source_labels: vec!["__meta_kubernetes_pod_annotation_prometheus_io_scrape".into()],
            regex: re("true"),
            action: Action::Keep,
            ..Default::default()
        },
        RelabelConfig {
            regex: re("__meta_kubernetes_pod_label_(.+)"),
            action: Action::LabelMap,
            ..Default::default()
        },
        RelabelConfig {
            source_labels: vec!["__meta_kubernetes_namespace".into()],
            target_label: "namespace".into(),
            ..Default::default()
        },
        RelabelConfig {
            source_labels: vec!["__meta_kubernetes_pod_name".into()],
            target_label: "pod".into(),
            ..Default::default()
        },
        RelabelConfig {
            source_labels: vec![
                "__address__".into(),
                "__meta_kubernetes_pod_container_port_number".into(),
            ],
            regex: re(r"([^:]+)(?::\d+)?;(\d+)"),
            replacement: "$1:$2".into(),
            target_label: "__address__".into(),
            ..Default::default()
        },
        RelabelConfig {
            source_labels: vec!["__address__".into()],
            modulus: 4,
            target_label: "__tmp_hash".into(),
            action: Action::HashMod,
            ..Default::default()
        },
        RelabelConfig {
            regex: re("__meta_.*"),
            action: Action::LabelDrop,
            ..Default::default()
        },
    ]
}

fn bench(c: &mut Criterion) {
    let sets = target_labels(1000);
    let cfgs = rules();
    let mut g = c.benchmark_group("relabel");
    g.throughput(Throughput::Elements(sets.len() as u64));
    g.bench_function("kubernetes_target_chain_1000", |b| {
        b.iter(|| {
            let mut kept = 0usize;
            for l in &sets {
                kept += process(black_box(l), &cfgs).is_some() as usize;
            }
            kept
        })
    });
    let drop = vec![RelabelConfig {
        source_labels: vec!["__name__".into()],
        regex: Some(Regex::new("go_gc_.*|process_.*").expect("bench pattern compiles")),
        action: Action::Drop,
        ..Default::default()
    }];
    let series: Vec<Labels> = (0..1000)
        .map(|i| {
            Labels::from_pairs([
                ("__name__".to_string(), format!("metric_{}", i % 50)),
                ("instance".into(), "a:1".into()),
            ])
        })
        .collect();
    g.bench_function("metric_drop_1000", |b| {
        b.iter(|| {
            series
                .iter()
                .filter(|l| process(black_box(l), &drop).is_some())
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
