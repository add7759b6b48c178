"""Per-request cost: the price table, configure(prices=...)/INFERTEL_PRICES, span attribute and counter."""

from __future__ import annotations

import json

import pytest

import infertel
from infertel import semconv
from infertel.cost import Price, PriceTable, load_prices
from infertel.cost import _runtime as cost_runtime

PRICES = {"llama": {"input_per_1k": 0.5, "output_per_1k": 2.0, "instance_hour": 3.0}, "*": {"output_per_1k": 1.0}}


@pytest.fixture(autouse=True)
def _unconfigure():
    yield
    infertel.shutdown()
    assert cost_runtime.active is None


def test_load_prices_shapes_and_lookup(tmp_path) -> None:
    table = load_prices(PRICES)
    assert table == PriceTable(
        (("*", Price(output_per_1k=1.0)), ("llama", Price(input_per_1k=0.5, output_per_1k=2.0, instance_hour=3.0)))
    )
    assert load_prices({"models": PRICES}) == table
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(PRICES))
    assert load_prices(str(path)) == table
    assert load_prices(json.dumps(PRICES)) == table
    assert table.request_cost("llama", 2000, 500) == pytest.approx(1.0 + 1.0)
    assert table.request_cost("other", 2000, 500) == pytest.approx(0.5)  # "*": output only
    assert table.request_cost("llama", None, None) is None
    assert table.as_dict() == {"*": {"output_per_1k": 1.0}, **{"llama": PRICES["llama"]}}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"m": {"input_per_1K": 1}}, r"prices\['m'\]\.input_per_1K: unknown field \(accepted: input_per_1k"),
        ({"m": {"output_per_1k": -1}}, r"prices\['m'\]\.output_per_1k: -1 is not accepted"),
        ({"m": {"instance_hour": "2"}}, r"prices\['m'\]\.instance_hour: '2' is not accepted"),
        ({"m": 3}, r"prices\['m'\]: expected a mapping"),
        ("{not json", r"prices: not valid JSON"),
        ("/nonexistent/prices.json", r"prices: cannot read the price file"),
        ([1, 2], r"prices: expected a mapping of model name"),
    ],
)
def test_bad_price_tables_name_the_field(source, message) -> None:
    with pytest.raises(ValueError, match=message):
        load_prices(source)


def test_configure_rejects_bad_prices_and_reads_the_environment(monkeypatch, tracer_provider) -> None:
    with pytest.raises(ValueError, match=r"^configure\(prices=\.\.\.\)\['m'\]\.x: unknown field"):
        infertel.configure(tracer_provider=tracer_provider, prices={"m": {"x": 1}})
    monkeypatch.setenv("INFERTEL_PRICES", '{"m": {"output_per_1k": "free"}}')
    with pytest.raises(ValueError, match=r"^INFERTEL_PRICES\['m'\]\.output_per_1k: 'free' is not accepted"):
        infertel.configure(tracer_provider=tracer_provider)


def _points(metric_reader):
    found = {}
    data = metric_reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == semconv.INFERTEL_COST:
                    assert metric.unit == semconv.INFERTEL_COST_UNIT
                    for point in metric.data.data_points:
                        found[tuple(sorted(point.attributes.items()))] = point.value
    return found


def test_cost_on_spans_and_counter(monkeypatch, tracer_provider, meter_provider, span_exporter, metric_reader) -> None:
    monkeypatch.setenv("INFERTEL_PRICES", json.dumps(PRICES))
    infertel.configure(tracer_provider=tracer_provider, meter_provider=meter_provider, resource_metrics=False)
    for model, tokens in (("llama", (1000, 500)), ("llama", (2000, 0)), ("gpt", (10, 1000))):
        with infertel.inference(model=model) as inv:
            inv.set_input_tokens(tokens[0])
            inv.set_output_tokens(tokens[1])
    with infertel.inference(model="llama"):  # no token counts: not priced
        pass
    with pytest.raises(RuntimeError), infertel.inference(model="llama") as inv:  # failed: not priced
        inv.set_input_tokens(10)
        raise RuntimeError("boom")
    costs = [s.attributes.get(semconv.INFERTEL_COST_USD) for s in span_exporter.get_finished_spans()]
    assert costs == [pytest.approx(1.5), pytest.approx(1.0), pytest.approx(1.0), None, None]
    assert _points(metric_reader) == {
        (("gen_ai.operation.name", "chat"), ("gen_ai.request.model", "llama")): pytest.approx(2.5),
        (("gen_ai.operation.name", "chat"), ("gen_ai.request.model", "gpt")): pytest.approx(1.0),
    }


def test_no_price_table_no_cost(tracer_provider, meter_provider, span_exporter, metric_reader) -> None:
    infertel.configure(tracer_provider=tracer_provider, meter_provider=meter_provider, resource_metrics=False)
    assert cost_runtime.active is None
    with infertel.inference(model="llama") as inv:
        inv.set_output_tokens(100)
    assert semconv.INFERTEL_COST_USD not in span_exporter.get_finished_spans()[0].attributes
    assert _points(metric_reader) == {}
