"""The benchmark's own parts that run without a broker: the in-process pipeline (the
ceiling figure) and the report."""

from __future__ import annotations

import asyncio

from bench.in_process import in_process
from bench.population import population
from bench.run import encode, report


def test_the_in_process_pipeline_measures_every_stage() -> None:
    figures = asyncio.run(in_process(asyncio.run(encode(population(20)))))
    stages = [figures[f"{s}_cpu_ms_per_event"] for s in ("route", "correlate", "evaluate")]
    assert all(value > 0 for value in stages)
    assert abs(sum(stages) - figures["cpu_ms_per_event"]) < 1e-6
    assert abs(figures["events_per_cpu_s"] * figures["cpu_ms_per_event"] - 1000) < 1e-6


def test_the_report_names_every_figure() -> None:
    logic = {
        "route_cpu_ms_per_event": 0.1,
        "correlate_cpu_ms_per_event": 0.2,
        "evaluate_cpu_ms_per_event": 0.3,
        "cpu_ms_per_event": 0.6,
        "events_per_cpu_s": 1666.7,
    }
    results = {
        "measured_at": "2026-11-22T10:00:00+00:00",
        "machine": {"cpus": 2, "python": "3.11", "kafka": "3.9.1"},
        "raw_events_per_s": 9000.0,
        "pipeline_events_per_s": 300.0,
        "throughput_ratio_vs_raw": 300 / 9000,
        "raw_cpu_ms_per_event": 0.03,
        "pipeline_cpu_ms_per_event": 3.0,
        "cpu_ratio_vs_raw": 0.01,
        "in_process": logic,
        "latency_rate_per_s": 1000,
        "latency_p50_ms": 4000.0,
        "latency_p99_ms": 9000.0,
        "latency": [
            {
                "events": 10000,
                "rate_per_s": 1000,
                "latency_p50_ms": 4000.0,
                "latency_p99_ms": 9000.0,
                "latency_max_ms": 9500.0,
                "kept_up_events_per_s": 310.0,
            },
            {
                "events": 2000,
                "rate_per_s": 200,
                "latency_p50_ms": 40.0,
                "latency_p99_ms": 90.0,
                "latency_max_ms": 4100.0,
                "kept_up_events_per_s": 199.0,
            },
        ],
        "rss_mb_per_100k": 900.0,
        "scaleout_ratio_2_workers": 1.5,
        "scaleout_ratio_2_workers_4_institutions": 1.75,
        "growth": [
            {
                "people": 10,
                "events": 30,
                "seconds": 1.0,
                "events_per_s": 30.0,
                "cpu_ms_per_event": 3.0,
                "peak_rss_mb": 90.0,
            },
        ],
    }
    text = report(results)
    for figure in (
        "throughput_ratio_vs_raw",
        "cpu_ratio_vs_raw",
        "latency_p99_ms",
        "rss_mb_per_100k",
        "scaleout_ratio_2_workers",
        "`scaleout_ratio_2_workers_4_institutions` (the population spread over the four"
        " universities) | 1.75 |",
        "1667 events per CPU second",
    ):
        assert figure in text
    assert "| 10 | 30 | 1.0 | 30 | 3.00 | 90 |" in text
    assert "at 1000/s (the worker kept up with 310/s) | 4000 / 9000 / 9500 |" in text
    assert "at 200/s (the worker kept up with 199/s) | 40 / 90 / 4100 |" in text
