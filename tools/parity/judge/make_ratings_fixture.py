"""Reference Bradley-Terry and Elo ratings for @lora/judge (packages/judge/src/ratings/*.test.ts).

Regenerate (from the repo root):
    /opt/parity/bin/pip install scipy==1.17.1   # once
    /opt/parity/bin/python tools/parity/judge/make_ratings_fixture.py

Writes packages/judge/src/__fixtures__/ratings.json. Bradley-Terry is fitted here by direct
maximisation of the log-likelihood with scipy (L-BFGS-B on log-strengths), independently of the
MM iteration used in TypeScript. Ties count as half a win for each side, i.e. a tie contributes
0.5*log P(i>j) + 0.5*log P(j>i). `prior_ties` adds that many virtual ties to every pair that met.
Elo is the plain sequential update in the battle order given.
"""
import json
import math
import pathlib

import numpy as np
from scipy.optimize import minimize

OUT = pathlib.Path(__file__).resolve().parents[3] / "packages/judge/src/__fixtures__/ratings.json"


def make_battles(rng, players, strengths, n, tie_rate):
    battles = []
    for _ in range(n):
        i, j = rng.choice(len(players), size=2, replace=False)
        if rng.random() < tie_rate:
            w = "tie"
        else:
            p = strengths[i] / (strengths[i] + strengths[j])
            w = "model1" if rng.random() < p else "model2"
        battles.append({"model1": players[i], "model2": players[j], "winner": w})
    return battles


def bt_mle(battles, players, prior_ties):
    idx = {p: k for k, p in enumerate(players)}
    n = len(players)
    w = np.zeros((n, n))  # w[i, j] = (fractional) wins of i over j
    for b in battles:
        i, j = idx[b["model1"]], idx[b["model2"]]
        if b["winner"] == "model1":
            w[i, j] += 1
        elif b["winner"] == "model2":
            w[j, i] += 1
        else:
            w[i, j] += 0.5
            w[j, i] += 0.5
    met = (w + w.T) > 0
    w = w + 0.5 * prior_ties * met

    def nll(theta):
        d = theta[:, None] - theta[None, :]
        # log P(i beats j) = -log(1 + exp(-(t_i - t_j)))
        return float(np.sum(w * np.logaddexp(0.0, -d)))

    def grad(theta):
        d = theta[:, None] - theta[None, :]
        s = 1.0 / (1.0 + np.exp(d))  # P(j beats i)
        g = -(w * s).sum(axis=1) + (w.T * s.T).sum(axis=1)
        return g

    res = minimize(nll, np.zeros(n), jac=grad, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10000})
    theta = res.x - res.x.mean()
    return {p: 1000 + 400 * theta[k] / math.log(10) for p, k in idx.items()}


def elo(battles, players, k=4.0, scale=400.0, base=10.0, init=1000.0):
    r = {p: init for p in players}
    for b in battles:
        r1, r2 = r[b["model1"]], r[b["model2"]]
        e1 = 1.0 / (1.0 + base ** ((r2 - r1) / scale))
        s1 = 1.0 if b["winner"] == "model1" else 0.5 if b["winner"] == "tie" else 0.0
        r[b["model1"]] = r1 + k * (s1 - e1)
        r[b["model2"]] = r2 - k * (s1 - e1)
    return r


def main():
    rng = np.random.default_rng(1234)
    players = ["alpha", "bravo", "charlie", "delta", "echo"]
    strengths = np.array([4.0, 2.0, 1.0, 1.0, 0.5])
    battles = make_battles(rng, players, strengths, 400, 0.15)
    seen = []
    for b in battles:
        for p in (b["model1"], b["model2"]):
            if p not in seen:
                seen.append(p)
    fixture = {
        "battles": battles,
        "bradleyTerry": bt_mle(battles, seen, 0.0),
        "bradleyTerryPrior1": bt_mle(battles, seen, 1.0),
        "elo": {"k4": elo(battles, seen, k=4.0), "k32": elo(battles, seen, k=32.0)},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    print(json.dumps({k: fixture[k] for k in ("bradleyTerry", "elo")}, indent=1))


if __name__ == "__main__":
    main()
