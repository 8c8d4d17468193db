"""Time defi-abm (the Mesa agent model, github.com/auralshin/defi-abm) on a given ETH/DAI book and
price path; run by ``test_bench_defi_abm.py`` with the Python of defi-abm's own virtualenv (it is
not on PyPI; see docs/benchmarks.md for how that virtualenv is made).

Input (JSON file, argv[1]): ``collateral`` (ETH per account), ``ltv`` (debt / collateral value
per account), ``collateral_factor``, ``penalty``, ``reserve_eth``, ``reserve_dai``, ``prices``
(one per step), ``seed``. Output (stdout, one JSON line): ``accounts``, ``steps``, ``seconds``
(the steps only, model construction excluded) and ``liquidations``.
"""

import csv
import json
import os
import sys
import tempfile
import time


def main(spec_file: str) -> None:
    from defi_abm.models.defi_model import DeFiModel

    with open(spec_file) as f:
        spec = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        prices_csv = os.path.join(tmp, "prices.csv")
        with open(prices_csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["price"])
            w.writerows([p] for p in spec["prices"])
        agents = [{"collateral_token": "ETH", "borrow_token": "DAI", "collateral_amount": c, "desired_ltv": v}
                  for c, v in zip(spec["collateral"], spec["ltv"])]
        config = {
            "simulation": {"steps": len(spec["prices"]), "seed": spec["seed"]},
            "protocols": {
                "oracle": {"price_csv": prices_csv, "initial_price": spec["prices"][0], "mode": "csv"},
                "amm": [{"token_x": "ETH", "token_y": "DAI", "reserve_x": spec["reserve_eth"],
                         "reserve_y": spec["reserve_dai"], "fee_rate": 0.003}],
                "lending": {"collateral_factor": spec["collateral_factor"], "interest_rate_apr": 0.0,
                            "liquidation_penalty": spec["penalty"], "agents": agents},
            },
        }
        model = DeFiModel(config)
        steps = len(spec["prices"]) - 1  # the oracle's first price is the initial one
        t0 = time.perf_counter()
        for _ in range(steps):
            model.step()
        seconds = time.perf_counter() - t0
    print(json.dumps({"accounts": len(agents), "steps": steps, "seconds": seconds,
                      "liquidations": len(model.metrics["liquidations"])}))


if __name__ == "__main__":
    main(sys.argv[1])
