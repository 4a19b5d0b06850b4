//! Server and client together over in-memory storage: external labels both ways,
//! the sample limit, frame splitting, response negotiation, `required_matchers` and
//! `read_recent`.

use super::client::{ClientOptions, HttpReply, ReadTransport, RemoteReadQueryable, StartTimeFn};
use super::codec::{FrameReader, snappy_encode};
use super::proto::{LabelMatcher, Query, ReadRequest, ResponseType};
use super::server::{ServerOptions, decode_request, handle, serve};
use super::{ReadError, client};
use ember_model::{Labels, MatchType, Matcher};
use ember_storage::list::{MemStorage, Value};
use ember_storage::{Appendable, Queryable, ValueType};
use prost::Message;
use std::sync::{Arc, Mutex};

fn storage() -> Arc<MemStorage> {
    let st = Arc::new(MemStorage::new());
    let mut app = st.appender();
    for job in ["a", "b"] {
        let l = Labels::from_pairs([("__name__", "m"), ("job", job)]);
        for i in 0..300 {
            app.append(None, &l, i * 15_000, i as f64).unwrap();
        }
    }
    // A series carrying a label named like an external label keeps its own value.
    let l = Labels::from_pairs([("__name__", "m"), ("job", "c"), ("region", "own")]);
    app.append(None, &l, 0, 1.0).unwrap();
    app.commit().unwrap();
    st
}

fn eq(n: &str, v: &str) -> LabelMatcher {
    LabelMatcher {
        r#type: 0,
        name: n.into(),
        value: v.into(),
    }
}

fn request(types: &[ResponseType], matchers: Vec<LabelMatcher>) -> ReadRequest {
    ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: 3_000_000,
            matchers,
            hints: None,
        }],
        accepted_response_types: types.iter().map(|t| *t as i32).collect(),
    }
}

fn ext() -> Labels {
    Labels::from_pairs([("region", "eu")])
}

#[test]
fn samples_with_external_labels_and_limit() {
    let st = storage();
    let req = request(&[], vec![eq("__name__", "m"), eq("region", "eu")]);
    let r = handle(st.as_ref(), &req, &ext(), &ServerOptions::default()).unwrap();
    assert_eq!(r.content_type, "application/x-protobuf");
    assert_eq!(r.content_encoding, Some("snappy"));
    let series = client::decode_samples(&r.body).unwrap();
    // region="eu" became region="": job c (region="own") is not selected.
    assert_eq!(series.len(), 2);
    assert_eq!(
        series[0].labels,
        Labels::from_pairs([("__name__", "m"), ("job", "a"), ("region", "eu")])
    );
    // 0..=3_000_000 ms at 15 s: 201 samples.
    assert_eq!(series[0].samples.len(), 201);
    // Without the external matcher, job c comes back with its own region.
    let req = request(&[], vec![eq("job", "c")]);
    let r = handle(st.as_ref(), &req, &ext(), &ServerOptions::default()).unwrap();
    let series = client::decode_samples(&r.body).unwrap();
    assert_eq!(series[0].labels.get("region"), Some("own"));
    // 402 samples in the answer: a limit of 401 fails with Prometheus's message.
    let req = request(&[], vec![eq("__name__", "m")]);
    let opts = ServerOptions {
        sample_limit: 401,
        ..Default::default()
    };
    let e = handle(st.as_ref(), &req, &ext(), &opts).unwrap_err();
    assert_eq!(e.to_string(), "exceeded sample limit (401)");
    assert_eq!(e.status(), 400);
    let opts = ServerOptions {
        sample_limit: 403,
        ..Default::default()
    };
    assert!(handle(st.as_ref(), &req, &ext(), &opts).is_ok());
}

#[test]
fn streamed_frames_split_by_size() {
    let st = storage();
    let req = request(
        &[ResponseType::StreamedXorChunks, ResponseType::Samples],
        vec![eq("__name__", "m"), eq("job", "a")],
    );
    let r = handle(st.as_ref(), &req, &ext(), &ServerOptions::default()).unwrap();
    assert_eq!(
        r.content_type,
        "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"
    );
    let mut frames = FrameReader::new(&r.body, 0);
    let f = frames.next_response().unwrap().unwrap();
    assert!(frames.next_response().unwrap().is_none());
    // 201 samples: chunks of 120 and 81, in one frame.
    assert_eq!(f.chunked_series.len(), 1);
    assert_eq!(f.chunked_series[0].chunks.len(), 2);
    assert_eq!(f.chunked_series[0].labels.len(), 3);
    // A tiny frame budget: one chunk per frame, same labels in each.
    let opts = ServerOptions {
        max_bytes_in_frame: 10,
        ..Default::default()
    };
    let r = handle(st.as_ref(), &req, &ext(), &opts).unwrap();
    let mut frames = FrameReader::new(&r.body, 0);
    let mut n = 0;
    while let Some(f) = frames.next_response().unwrap() {
        assert_eq!(f.chunked_series[0].chunks.len(), 1);
        assert_eq!(f.query_index, 0);
        n += 1;
    }
    assert_eq!(n, 2);
    // Both answers decode to the same series.
    let streamed = client::decode_streamed(&r.body, 0, 0, 3_000_000).unwrap();
    let req = request(&[], vec![eq("__name__", "m"), eq("job", "a")]);
    let samples = handle(st.as_ref(), &req, &ext(), &opts).unwrap();
    assert_eq!(streamed, client::decode_samples(&samples.body).unwrap());
}

#[test]
fn bad_requests() {
    let st = storage();
    let e = serve(st.as_ref(), b"garbage", &ext(), &ServerOptions::default()).unwrap_err();
    assert_eq!(e.status(), 400);
    let req = request(&[], vec![eq("__name__", "m")]);
    let mut raw = req.encode_to_vec();
    raw.extend_from_slice(&[0xff, 0xff]);
    let e = decode_request(&snappy_encode(&raw).unwrap()).unwrap_err();
    assert_eq!(e.status(), 400);
    let mut req = request(&[], vec![eq("__name__", "m")]);
    req.accepted_response_types = vec![7];
    let e = handle(st.as_ref(), &req, &ext(), &ServerOptions::default()).unwrap_err();
    assert!(e.to_string().contains("does not support"), "{e}");
    req.queries[0].matchers = vec![LabelMatcher {
        r#type: 2,
        name: "x".into(),
        value: "(".into(),
    }];
    req.accepted_response_types = vec![];
    assert_eq!(
        handle(st.as_ref(), &req, &ext(), &ServerOptions::default())
            .unwrap_err()
            .status(),
        400
    );
}

/// A transport calling the server in-process, recording the requests.
struct Loop {
    st: Arc<MemStorage>,
    ext: Labels,
    seen: Arc<Mutex<Vec<ReadRequest>>>,
    samples_only: bool,
}

impl ReadTransport for Loop {
    fn post(&self, body: Vec<u8>) -> Result<HttpReply, ReadError> {
        let mut req = decode_request(&body)?;
        self.seen.lock().unwrap().push(req.clone());
        if self.samples_only {
            req.accepted_response_types = vec![0];
        }
        match handle(self.st.as_ref(), &req, &self.ext, &ServerOptions::default()) {
            Ok(r) => Ok(HttpReply {
                status: 200,
                content_type: r.content_type.into(),
                body: r.body,
            }),
            Err(e) => Ok(HttpReply {
                status: e.status(),
                content_type: "text/plain".into(),
                body: format!("{e}\n").into_bytes(),
            }),
        }
    }
    fn url(&self) -> &str {
        "loop"
    }
}

fn remote(
    opts: ClientOptions,
    start: i64,
    samples_only: bool,
) -> (RemoteReadQueryable, Arc<Mutex<Vec<ReadRequest>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let t = Loop {
        st: storage(),
        ext: ext(),
        seen: seen.clone(),
        samples_only,
    };
    let cb: StartTimeFn = Arc::new(move || Ok(start));
    (RemoteReadQueryable::new(Box::new(t), opts, cb), seen)
}

fn count(
    q: &dyn Queryable,
    mint: i64,
    maxt: i64,
    ms: &[Matcher],
) -> (Vec<Labels>, usize, Vec<String>) {
    let querier = q.querier(mint, maxt).unwrap();
    let mut set = querier.select(true, None, ms);
    let mut labels = Vec::new();
    let mut n = 0;
    for s in set.by_ref() {
        let s = s.unwrap();
        labels.push(s.labels().clone());
        let mut it = s.iter();
        while it.next() != ValueType::None {
            n += 1;
        }
    }
    (labels, n, set.warnings)
}

fn m(n: &str, v: &str) -> Matcher {
    Matcher::new(MatchType::Equal, n, v).unwrap()
}

#[test]
fn client_external_labels_required_matchers_read_recent() {
    for samples_only in [false, true] {
        let opts = ClientOptions {
            external_labels: ext(),
            read_recent: true,
            ..Default::default()
        };
        let (q, seen) = remote(opts, 0, samples_only);
        let (labels, n, w) = count(&q, 0, 3_000_000, &[m("__name__", "m")]);
        assert!(w.is_empty(), "{w:?}");
        // region="eu" was added to the request and removed from the answer.
        assert_eq!(
            labels,
            vec![
                Labels::from_pairs([("__name__", "m"), ("job", "a")]),
                Labels::from_pairs([("__name__", "m"), ("job", "b")]),
            ]
        );
        assert_eq!(n, 402);
        let sent = seen.lock().unwrap();
        assert_eq!(sent[0].queries[0].matchers[1], eq("region", "eu"));
        assert_eq!(sent[0].accepted_response_types, vec![1, 0]);
    }

    // required_matchers: a select without job="a" is not sent.
    let opts = ClientOptions {
        required_matchers: vec![("job".into(), "a".into())],
        read_recent: true,
        ..Default::default()
    };
    let (q, seen) = remote(opts, 0, false);
    assert_eq!(count(&q, 0, 3_000_000, &[m("__name__", "m")]).1, 0);
    assert!(seen.lock().unwrap().is_empty());
    let (labels, n, _) = count(&q, 0, 3_000_000, &[m("__name__", "m"), m("job", "a")]);
    assert_eq!((labels.len(), n), (1, 201));
    assert_eq!(seen.lock().unwrap().len(), 1);

    // read_recent: false with the local start at 1_000_000: a range starting later
    // is not sent, one ending later is cut at the start.
    let opts = ClientOptions::default();
    let (q, seen) = remote(opts, 1_000_000, false);
    assert_eq!(count(&q, 1_000_001, 3_000_000, &[m("__name__", "m")]).1, 0);
    assert!(seen.lock().unwrap().is_empty());
    let (_, n, _) = count(&q, 0, 3_000_000, &[m("__name__", "m"), m("job", "a")]);
    assert_eq!(n, 67, "0..=1_000_000 at 15 s");
    assert_eq!(
        seen.lock().unwrap()[0].queries[0].end_timestamp_ms,
        1_000_000
    );
}

#[test]
fn failing_remote_is_a_warning() {
    struct Down;
    impl ReadTransport for Down {
        fn post(&self, _: Vec<u8>) -> Result<HttpReply, ReadError> {
            Ok(HttpReply {
                status: 503,
                content_type: "text/plain".into(),
                body: b"busy\n".to_vec(),
            })
        }
        fn url(&self) -> &str {
            "http://down/api/v1/read"
        }
    }
    let q = RemoteReadQueryable::new(
        Box::new(Down),
        ClientOptions {
            read_recent: true,
            ..Default::default()
        },
        Arc::new(|| Ok(0)),
    );
    let (_, n, w) = count(&q, 0, 10, &[m("__name__", "m")]);
    assert_eq!(n, 0);
    assert_eq!(
        w,
        vec!["remote_read: remote server http://down/api/v1/read returned http status 503: busy"]
    );
    let _ = Value::Float(0.0);
}

#[test]
fn histograms_both_response_types() {
    use ember_model::histogram::{Histogram, Span};
    use ember_storage::HistogramRef;
    let st = MemStorage::new();
    let l = Labels::from_pairs([("__name__", "h"), ("job", "a")]);
    let mut want = Vec::new();
    let mut app = st.appender();
    for i in 0..130u64 {
        let h = Histogram {
            schema: 0,
            zero_threshold: 0.001,
            zero_count: i,
            count: 4 * i + 3,
            sum: i as f64 * 1.5,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![i as i64 + 1, i as i64 + 1],
            ..Default::default()
        };
        app.append_histogram(None, &l, i as i64 * 1000, HistogramRef::Int(&h))
            .unwrap();
        want.push((i as i64 * 1000, h));
    }
    app.commit().unwrap();
    let req = |t: ResponseType| request(&[t], vec![eq("__name__", "h")]);
    let opts = ServerOptions::default();
    let samples = handle(&st, &req(ResponseType::Samples), &Labels::empty(), &opts).unwrap();
    let samples = client::decode_samples(&samples.body).unwrap();
    let streamed = handle(
        &st,
        &req(ResponseType::StreamedXorChunks),
        &Labels::empty(),
        &opts,
    )
    .unwrap();
    let mut frames = FrameReader::new(&streamed.body, 0);
    let f = frames.next_response().unwrap().unwrap();
    // Histogram chunks (encoding 2), cut at 120 samples.
    assert!(f.chunked_series[0].chunks.iter().all(|c| c.r#type == 2));
    assert_eq!(f.chunked_series[0].chunks.len(), 2);
    let streamed = client::decode_streamed(&streamed.body, 0, 0, 3_000_000).unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].samples.len(), 130);
    for (got, (t, h)) in samples[0].samples.iter().zip(&want) {
        assert_eq!(got.0, *t);
        match &got.1 {
            Value::Histogram(g) => {
                assert_eq!(
                    (g.count, g.sum, &g.positive_buckets),
                    (h.count, h.sum, &h.positive_buckets)
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // The chunk round trip may set counter-reset hints; values are the same.
    for (a, b) in streamed[0].samples.iter().zip(&samples[0].samples) {
        match (&a.1, &b.1) {
            (Value::Histogram(x), Value::Histogram(y)) => {
                assert_eq!(a.0, b.0);
                assert_eq!(
                    (x.count, x.sum, &x.positive_buckets),
                    (y.count, y.sum, &y.positive_buckets)
                );
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(streamed[0].samples.len(), 130);
}
