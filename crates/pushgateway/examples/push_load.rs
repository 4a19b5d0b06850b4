//! Load generator for a Pushgateway (Ember's or the original): `clients` threads
//! each push their share of `groups` groups of `series` gauges (`PUT
//! /metrics/job/load/instance/<n>`, text format, keep-alive HTTP/1.1), `rounds`
//! times over. Prints one line per round: pushes, seconds, pushes per second, and
//! how many pushes were not answered 200.
//!
//! `cargo run --release -p ember-pushgateway --example push_load -- ADDR [groups]
//! [series] [clients] [rounds]`; `bench/pushgateway_vs_debian.sh` drives it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

fn body(group: usize, series: usize, round: usize) -> String {
    let mut b = String::with_capacity(series * 60);
    b.push_str("# HELP load_metric A metric pushed by the load generator.\n");
    b.push_str("# TYPE load_metric gauge\n");
    for s in 0..series {
        b.push_str(&format!(
            "load_metric{{series=\"{s}\",shard=\"{}\"}} {}\n",
            s % 10,
            group * 1000 + s + round
        ));
    }
    b
}

/// Sends one request on a kept-alive connection and reads the status code.
fn put(
    conn: &mut BufReader<TcpStream>,
    addr: &str,
    path: &str,
    body: &str,
) -> std::io::Result<u16> {
    let req = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.get_mut().write_all(req.as_bytes())?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let code: u16 = line.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut len = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut skip = vec![0u8; len];
    conn.read_exact(&mut skip)?;
    Ok(code)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args
        .first()
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:9091".into());
    let num = |i: usize, d: usize| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (groups, series, clients, rounds) = (num(1, 1000), num(2, 100), num(3, 8), num(4, 3));
    for round in 0..rounds {
        let start = Instant::now();
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let addr = addr.clone();
                std::thread::spawn(move || {
                    let stream = TcpStream::connect(&addr).expect("connect");
                    stream.set_nodelay(true).ok();
                    let mut conn = BufReader::new(stream);
                    let mut failed = 0usize;
                    for g in (c..groups).step_by(clients) {
                        let path = format!("/metrics/job/load/instance/{g}");
                        match put(&mut conn, &addr, &path, &body(g, series, round)) {
                            Ok(200) => {}
                            _ => failed += 1,
                        }
                    }
                    failed
                })
            })
            .collect();
        let failed: usize = handles
            .into_iter()
            .map(|h| h.join().unwrap_or(usize::MAX))
            .sum();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "round {round} pushes {groups} seconds {secs:.3} pushes_per_second {:.1} failed {failed}",
            groups as f64 / secs
        );
    }
}
