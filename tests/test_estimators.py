"""The scikit-learn estimators: the sklearn contract, and what fit / predict really compute."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from sklearn.datasets import load_iris, make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import check_estimator

import mdlnas
from mdlnas.data.split import plan_sizes, split_indices
from mdlnas.errors import ConfigError, DataError, MdlnasError
from mdlnas.estimators import MDLNASClassifier, MDLNASRegressor

# Tiny settings: these tests check behaviour, not the quality of a long search (15
# retraining epochs: the one-cycle schedule spends its first 30 % warming up, and
# scikit-learn's regressor check asks for R² > 0.5).
FAST: dict[str, Any] = {"epochs": 1, "train_epochs": 15, "train_lr": 1e-2, "device": "cpu"}

# torch's note on the retraining's float() of the learned noise scale: not about these tests
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")

# Checks that scikit-learn itself skips here: those needing pandas (when it is not
# installed) and the array-API ones (unless SCIPY_ARRAY_API is set).
SKIPPED_BY_SKLEARN = ("pandas", "array_api", "SCIPY_ARRAY_API")


@pytest.mark.parametrize(
    "estimator",
    [MDLNASClassifier(**FAST), MDLNASRegressor(**FAST)],
    ids=["classifier", "regressor"],
)
@pytest.mark.slow
def test_check_estimator_passes_without_waivers(estimator: Any) -> None:
    # Raises at the first failing check; the score checks (accuracy > 0.83 on blobs, R² >
    # 0.5 on make_regression) are why FAST raises the retraining learning rate: at the
    # default 3e-3 and lam=1 six epochs leave the regressor near the mean.
    results = check_estimator(estimator, on_skip=None)
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    assert {"check_fit_idempotent", "check_methods_subset_invariance", "check_estimators_pickle",
            "check_fit2d_1sample", "check_n_features_in_after_fitting"} <= passed
    skipped = [str(r["exception"]) for r in results if r["status"] == "skipped"]
    assert all(any(word in reason for word in SKIPPED_BY_SKLEARN) for reason in skipped), skipped
    assert {r["status"] for r in results} <= {"passed", "skipped"}


@pytest.fixture(scope="module")
def iris_fit() -> tuple[MDLNASClassifier, NDArray[np.float64], NDArray[Any]]:
    x, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]  # string labels
    model = MDLNASClassifier(**FAST, random_state=3).fit(x, names)
    return model, x, names


def test_predict_is_the_networks_argmax_on_independently_scaled_rows(
    iris_fit: tuple[MDLNASClassifier, NDArray[np.float64], NDArray[Any]],
) -> None:
    model, x, names = iris_fit
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    # The scaling must come from the training part only: rebuild that part independently.
    sizes = plan_sizes(len(x), val_fraction=0.2, test_fraction=None, n_train=None)
    codes = np.unique(names, return_inverse=True)[1].astype(np.int64)
    train_rows, val_rows, _ = split_indices(codes, sizes, np.random.default_rng(3), len(x))
    x32 = x.astype(np.float32)
    mean = x32[train_rows].astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(model.scaling_.x_mean, mean, rtol=1e-6)
    assert not np.allclose(model.scaling_.x_mean, x32.mean(axis=0), rtol=1e-6, atol=0)
    # the validation part is stratified: every class, in proportion (10 of each of 30)
    assert np.bincount(codes[val_rows]).tolist() == [10, 10, 10]
    std = x32[train_rows].astype(np.float64).std(axis=0)
    scaled = torch.as_tensor(((x32 - mean) / std).astype(np.float32))
    with torch.no_grad():
        logits = model.model_.eval()(scaled).numpy()
    expected = model.classes_[logits.argmax(axis=1)]
    assert (model.predict(x) == expected).mean() > 0.99  # float rounding may flip a tie
    probabilities = model.predict_proba(x)
    assert probabilities.shape == (150, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    softmax = torch.softmax(torch.as_tensor(logits, dtype=torch.float64), dim=1).numpy()
    np.testing.assert_allclose(probabilities, softmax, atol=1e-5)
    assert model.score(x, names) == pytest.approx((model.predict(x) == names).mean())


def test_fitted_attributes_describe_the_search(
    iris_fit: tuple[MDLNASClassifier, NDArray[np.float64], NDArray[Any]],
) -> None:
    model = iris_fit[0]
    assert model.genotype_.space.name == "mlp"
    assert model.genotype_.input_shape == (4,) and model.genotype_.output_dim == 3
    assert model.model_.genotype == model.genotype_
    assert model.n_features_in_ == 4 and model.input_shape_ == (4,)
    assert len(model.history_) == FAST["train_epochs"]
    assert model.search_result_.epochs_run <= FAST["epochs"]


def test_same_random_state_same_model_and_pickle_keeps_predictions(
    iris_fit: tuple[MDLNASClassifier, NDArray[np.float64], NDArray[Any]],
) -> None:
    model, x, names = iris_fit
    again = MDLNASClassifier(**FAST, random_state=3).fit(x, names)
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(x), model.predict_proba(x))


def test_wrong_inputs_are_mdlnas_errors_that_say_what_to_do(
    iris_fit: tuple[MDLNASClassifier, NDArray[np.float64], NDArray[Any]],
) -> None:
    model, x, names = iris_fit
    with pytest.raises(ValueError, match="4 features"):
        model.predict(x[:, :3])
    with pytest.raises(DataError, match="at least 3 samples"):
        MDLNASClassifier(**FAST).fit(x[:2], ["a", "b"])
    with pytest.raises(DataError, match="1 class"):
        MDLNASClassifier(**FAST).fit(x[:10], ["a"] * 10)
    with pytest.raises(ConfigError, match="random_state"):
        MDLNASClassifier(**FAST, random_state=-1).fit(x, names)
    with pytest.raises(ConfigError, match="train_"):
        MDLNASClassifier(**{**FAST, "train_lr": -1.0}).fit(x, names)
    with pytest.raises(ConfigError, match="val_fraction"):
        MDLNASClassifier(**FAST, val_fraction=1.5).fit(x, names)
    with pytest.raises(ConfigError, match="expects"):  # a conv2d space cannot take tables
        MDLNASClassifier(**FAST, space="conv2d").fit(x, names)
    with pytest.raises(NotFittedError):
        MDLNASClassifier().predict(x)
    assert issubclass(DataError, MdlnasError)


def test_signals_and_images_get_convolutional_spaces() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    signals = rng.normal(size=(40, 2, 12)) + y[:, None, None]  # (n, channels, length)
    model = MDLNASClassifier(**FAST, layers=1, random_state=0).fit(signals, y)
    assert model.space_.name == "conv1d" and model.input_shape_ == (2, 12)
    assert model.predict_proba(signals).shape == (40, 2)
    with pytest.raises(ValueError, match="shape"):
        model.predict(signals[:, :, :10])
    images = rng.normal(size=(40, 1, 6, 6)) + y[:, None, None, None]
    image_model = MDLNASRegressor(**FAST, layers=1, random_state=0).fit(images, y * 2.0)
    assert image_model.space_.name == "conv2d"
    assert image_model.predict(images).shape == (40,)


def test_flat_series_are_signals_with_signal_or_the_conv1d_space() -> None:
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], 20)
    series = rng.normal(size=(40, 24)) + y[:, None]  # (n, length): sktime's flat layout
    model = MDLNASClassifier(**FAST, space="conv1d", layers=1, random_state=0).fit(series, y)
    assert model.input_shape_ == (1, 24) and model.signal_ == 1
    assert model.n_features_in_ == 24 and model.predict(series).shape == (40,)
    # signal=C: the columns hold C channels one after another
    two = MDLNASClassifier(**FAST, signal=2, layers=1, random_state=0).fit(series, y)
    assert two.space_.name == "conv1d" and two.input_shape_ == (2, 12)
    scaled = two.scaling_.transform_x(series.reshape(40, 2, 12).astype(np.float32))
    with torch.no_grad():
        logits = two.model_.eval()(torch.as_tensor(scaled)).double()
    np.testing.assert_allclose(two.predict_proba(series),
                               torch.softmax(logits, dim=1).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="24 features"):
        model.predict(series[:, :20])


def test_dataframes_with_categories_and_gaps() -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    colour = np.array(["blue", "green", "red"])[rng.integers(0, 3, 60)]
    size = rng.normal(size=60)
    size[[3, 30]] = np.nan
    frame = pd.DataFrame({"colour": colour, "size": size})
    y = (colour == "red").astype(int)
    with pytest.raises(DataError, match="column 'size' is missing a value at data row 4"):
        MDLNASClassifier(**FAST).fit(frame, y)
    model = MDLNASClassifier(**FAST, impute="mean", random_state=0).fit(frame, y)
    assert model.encoding_.output_names == ("colour=blue", "colour=green", "colour=red", "size")
    assert model.n_features_in_ == 2 and list(model.feature_names_in_) == ["colour", "size"]
    # the gaps get the training part's mean, computed here from the split's rules
    sizes = plan_sizes(60, val_fraction=0.2, test_fraction=None, n_train=None)
    train_rows = split_indices(y.astype(np.int64), sizes, np.random.default_rng(0), 60)[0]
    known = size[train_rows][~np.isnan(size[train_rows])]
    assert model.encoding_.columns[1].fill == pytest.approx(known.mean())
    # columns by name, in any order; an unseen category is named
    swapped = frame[["size", "colour"]]
    np.testing.assert_array_equal(model.predict(swapped), model.predict(frame))
    with pytest.raises(DataError, match="never had: purple"):
        model.predict(pd.DataFrame({"colour": ["purple"], "size": [0.0]}))


def test_regressor_predicts_in_the_targets_units() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 3))
    y = 1000.0 + 50.0 * x[:, 0]
    model = MDLNASRegressor(**FAST, lam=0.0, train_lam=0.0, random_state=0).fit(x, y)
    scaled = torch.as_tensor(model.scaling_.transform_x(x.astype(np.float32)))
    with torch.no_grad():
        raw = model.model_.eval()(scaled)[:, 0].double().numpy()
    np.testing.assert_allclose(model.predict(x), raw * model.scaling_.y_std
                               + model.scaling_.y_mean, rtol=1e-5)
    assert abs(model.predict(x).mean() - 1000.0) < 50.0


def test_pipeline_and_grid_search() -> None:
    x, y = make_blobs(n_samples=90, centers=3, random_state=0)
    pipeline = Pipeline([
        ("double", FunctionTransformer(lambda v: 2.0 * v)),
        ("net", MDLNASClassifier(**FAST, random_state=0)),
    ])
    search = GridSearchCV(pipeline, {"net__lam": [0.0, 1.0]}, cv=2).fit(x, y)
    assert search.best_params_["net__lam"] in (0.0, 1.0)
    assert search.score(x, y) > 0.8
    assert search.best_estimator_.named_steps["net"].genotype_ is not None


def test_estimators_load_lazily_from_the_package() -> None:
    assert mdlnas.MDLNASClassifier is MDLNASClassifier
    assert mdlnas.MDLNASRegressor is MDLNASRegressor
    with pytest.raises(AttributeError):
        _ = mdlnas.NoSuchThing  # type: ignore[attr-defined]


def test_a_budget_picks_the_family_network_within_it() -> None:
    from mdlnas.space.network import count_weights

    x, y = load_iris(return_X_y=True)
    common: dict[str, Any] = {"epochs": 8, "alpha_lr": 0.3, "lam_knots": 4, "lam_range": "0.01:100",
                              "lam_points": 5, "train_epochs": 2, "random_state": 0}
    free = MDLNASClassifier(**common).fit(x, y)
    assert free.front_ is not None and len(free.front_) == 5
    largest = max(row["weights"] for row in free.front_)
    budget = min(row["weights"] for row in free.front_)
    assert budget < largest  # the family spans sizes, so the budget changes the pick
    fitted = MDLNASClassifier(**common, max_weights=budget).fit(x, y)
    assert count_weights(fitted.model_) <= budget
    assert [r["chosen"] for r in fitted.front_ or []].count(True) == 1
    with pytest.raises(ConfigError, match="15 weights"):  # iris' linear model: 4 × 3 + 3
        MDLNASClassifier(**common, max_weights=14).fit(x, y)
    # the fill sets the retraining's width: a width of one's own is refused before searching
    with pytest.raises(ConfigError, match="drop --train-channels"):
        MDLNASClassifier(**common, max_weights=budget, train_channels=8).fit(x, y)
    with pytest.raises(ConfigError, match="leave --augment at none"):  # a table
        MDLNASClassifier(**common, train_augment="shift").fit(x, y)
    # λ by validation: the family over the default range, its best network there
    auto = MDLNASClassifier(**{**common, "lam_range": None}, lam="auto").fit(x, y)
    assert auto.front_ is not None
    assert [round(r["lam"], 6) for r in auto.front_][::4] == [0.01, 10.0]
    assert [r["chosen"] for r in auto.front_].count(True) == 1
