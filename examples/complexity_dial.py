"""λ as a dial: the same search at several complexity weights, on a scikit-learn table.

Each λ gets its own estimator; the larger λ, the more a weight has to pay for itself, and
the smaller the network the search returns (down to the linear model, which the `mlp`
space holds). Accuracy is scored on a held-out quarter of the rows, once per λ.

    python examples/complexity_dial.py            # a few minutes on 2 cores
    python examples/complexity_dial.py --quick    # seconds: tiny settings, for the tests
"""

from __future__ import annotations

import argparse

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from mdlnas import MDLNASClassifier
from mdlnas.space.network import count_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings (for the tests)")
    args = parser.parse_args()
    epochs, train_epochs = (2, 5) if args.quick else (20, 150)

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, stratify=y, random_state=0)
    print(f"{'lambda':>8} {'weights':>8} {'accuracy':>9}  architecture")
    for lam in (0.01, 0.1, 1.0):
        clf = MDLNASClassifier(lam=lam, epochs=epochs, train_epochs=train_epochs,
                               random_state=0)
        clf.fit(x_train, y_train)
        cells = [c for c in (clf.genotype_.normal, clf.genotype_.reduce) if c is not None]
        kept = ", ".join(sorted({e.op for c in cells for e in c.edges}))
        print(f"{lam:>8g} {count_weights(clf.model_):>8d} {clf.score(x_test, y_test):>9.3f}  "
              f"{kept or 'the linear model'}")


if __name__ == "__main__":
    main()
