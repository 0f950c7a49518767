"""The one ranking rule: complete records by score, earliest on ties; 0.0 and below are scores."""

from dataclasses import replace

from evonas import ranking
from evonas.metrics import Metrics
from evonas.storage import IndividualRecord


def _rec(h, acc=None, silhouette=None, status="ok", pruned_at=None):
    return IndividualRecord(
        hash=h, genome="", parents=(), operator="", status=status, seed=0,
        metrics=Metrics(acc=acc, silhouette=silhouette), pruned_at=pruned_at,
    )  # fmt: skip


def test_a_score_of_zero_is_a_score():
    zero, low = _rec("z", silhouette=0.0), _rec("n", silhouette=-0.2)
    assert ranking.best([zero, low]) is zero
    assert ranking.best([low, zero]) is zero
    assert ranking.better(zero, low) and not ranking.better(low, zero)


def test_negative_silhouettes_rank_in_order():
    recs = [_rec("a", silhouette=-0.5), _rec("b", silhouette=-0.1), _rec("c", silhouette=-0.3)]
    assert [r.hash for r in ranking.ranked(recs)] == ["b", "c", "a"]


def test_failed_and_pruned_never_rank_whatever_their_figures():
    failed = _rec("f", acc=0.99, status="failed")
    pruned = _rec("p", acc=0.98, status="pruned", pruned_at=2)
    ok = _rec("o", acc=0.1)
    assert ranking.best([failed, pruned, ok]) is ok
    assert ranking.ranked([failed, pruned, ok]) == [ok]
    assert ranking.best([failed, pruned]) is None
    assert not ranking.better(failed, None) and ranking.better(ok, failed)


def test_ties_go_to_the_earliest_and_each_genome_ranks_once():
    first, second, again = _rec("a", acc=0.5), _rec("b", acc=0.5), _rec("a", acc=0.9, status="cached")
    assert ranking.best([first, second]) is first
    assert ranking.ranked([first, second, again]) == [first, second]


def test_the_objective_metric_is_the_score_and_the_silhouette_without_labels():
    assert Metrics(acc=0.0, silhouette=0.9).score() == 0.0  # ACC by default, 0.0 a score like any
    assert Metrics(silhouette=0.3).score() == 0.3
    assert Metrics().score() is None
    m = Metrics(acc=0.6, nmi=0.7, ari=0.5, silhouette=0.2)
    assert [m.score(o) for o in ("acc", "nmi", "ari", "silhouette")] == [0.6, 0.7, 0.5, 0.2]
    assert Metrics(silhouette=0.4).score("nmi") == 0.4  # no labels: the silhouette whatever asked


def test_records_rank_by_their_objective():
    high_acc = replace(_rec("a", acc=0.9), metrics=Metrics(acc=0.9, nmi=0.5))
    high_nmi = replace(_rec("b", acc=0.6), metrics=Metrics(acc=0.6, nmi=0.8))
    assert ranking.best([high_acc, high_nmi]) is high_acc
    by_nmi = [replace(r, objective="nmi") for r in (high_acc, high_nmi)]
    assert ranking.best(by_nmi) is by_nmi[1] and by_nmi[1].score == 0.8


def test_best_score_keeps_zero():
    assert ranking.best_score([None, 0.0, -1.0]) == 0.0
    assert ranking.best_score([None]) is None
