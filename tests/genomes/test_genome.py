import json
import re

import pytest

from evonas.errors import InvalidGenomeError
from evonas.genomes import ConvGene, DenseGene, Genome, PoolGene, SearchSpace, validate_genome

EXAMPLE = "c32k3-bn-pmax-c64k5-pavg-d16"


def test_compact_round_trip_and_example_form():
    g = Genome.from_compact(EXAMPLE)
    assert g.compact() == EXAMPLE
    assert str(g) == EXAMPLE
    assert [type(x).__name__ for x in g.genes] == [
        "ConvGene", "BatchNormGene", "PoolGene", "ConvGene", "PoolGene", "DenseGene",
    ]  # fmt: skip
    assert g.latent_dim == 16 and g.n_convs == 2 and g.n_pools == 2


def test_activation_codes_round_trip():
    g = Genome.from_compact("c8k3e-c8k5l-c8k3t-c8k3-d4")
    assert [x.activation for x in g.body] == ["elu", "leaky_relu", "tanh", "relu"]
    assert Genome.from_compact(g.compact()) == g


def test_canonical_json_and_hash_ignore_how_the_genome_was_written():
    g = Genome.from_compact(EXAMPLE)
    canonical = g.canonical_json()
    # the same genome written with reordered keys, spaces and defaults left out
    data = json.loads(canonical)
    for gene in data["genes"]:
        if gene["kind"] == "conv" and gene["activation"] == "relu":
            del gene["activation"]
    written = json.dumps({"genes": [dict(reversed(list(x.items()))) for x in data["genes"]]}, indent=3)
    other = Genome.from_json(written)
    assert other == g
    assert other.canonical_json() == canonical
    assert other.hash == g.hash
    assert len(g.hash) == 16


def test_different_genomes_hash_differently():
    hashes = {
        Genome.from_compact(s).hash for s in ["c8k3-d4", "c8k5-d4", "c8k3-d5", "c8k3-bn-d4", "c8k3e-d4"]
    }
    assert len(hashes) == 5


def test_hash_is_stable_across_versions():
    # a stored hash must keep meaning the same genome: changing this value breaks every database
    assert Genome.from_compact("c8k3-d4").hash == Genome.from_compact("c8k3-d4").hash
    assert Genome.from_compact("c8k3-d4").hash == "0bd4837e62ebcf55"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pmax-c8k3-d4", "Gene 0 (pmax) must be a conv gene"),
        ("c8k3-pmax", "must be a dense gene"),
        ("c8k3-d4-c8k3-d4", "Gene 1 (d4): dense is allowed only as the last gene"),
        ("c8k3-pmax-bn-d4", "Gene 2 (bn) must directly follow a conv gene, not pmax"),
        ("c8k3-bn-bn-d4", "Gene 2 (bn) must directly follow a conv gene, not bn"),
        ("d4", "at least a conv gene and a dense gene"),
        ("c8k4-d4", "Unknown gene token 'c8k4'"),
    ],
)
def test_ordering_rules_name_the_gene(text, message):
    with pytest.raises(InvalidGenomeError, match=re.escape(message)):
        Genome.from_compact(text)


def test_invalid_json_is_a_clear_error():
    with pytest.raises(InvalidGenomeError, match="Invalid genome JSON"):
        Genome.from_json('{"genes": [{"kind": "conv", "channels": -1}]}')


def test_genome_is_immutable():
    g = Genome.from_compact("c8k3-d4")
    with pytest.raises(Exception, match="frozen"):
        g.genes = ()  # type: ignore[misc]


def test_validation_infers_shapes():
    report = validate_genome(Genome.from_compact(EXAMPLE), (1, 28, 28))
    assert [layer.shape for layer in report.layers] == [
        (32, 28, 28), (32, 28, 28), (32, 14, 14), (64, 14, 14), (64, 7, 7), (16, 1, 1),
    ]  # fmt: skip
    assert report.feature_shape == (64, 7, 7)


def test_odd_sizes_floor_when_pooling():
    report = validate_genome(Genome.from_compact("c8k3-pmax-pmax-pmax-d4"), (1, 28, 28))
    assert report.layers[-2].shape == (8, 3, 3)


def test_collapsing_spatial_size_is_rejected_naming_the_gene():
    g = Genome.from_compact("c8k3-pmax-pmax-pmax-pavg-d4")  # 8 -> 4 -> 2 -> 1 -> collapse
    with pytest.raises(InvalidGenomeError, match=r"Gene 4 \(pavg\).*1x1.*collapse"):
        validate_genome(g, (1, 8, 8))
    validate_genome(g, (1, 16, 16))  # fine on larger images


def test_parameter_limit():
    g = Genome.from_compact("c64k5-c64k5-d32")
    params = validate_genome(g, (1, 8, 8)).params
    with pytest.raises(InvalidGenomeError, match=f"{params:,} parameters, over the limit of 1,000"):
        validate_genome(g, (1, 8, 8), max_params=1000)


def test_bad_input_shape():
    with pytest.raises(InvalidGenomeError, match="input shape"):
        validate_genome(Genome.from_compact("c8k3-d4"), (8, 8))


def test_search_space_membership():
    space = SearchSpace(max_channels=32, max_convs=2, max_latent=8)
    space.check(Genome.from_compact("c32k3-c8k5-d8"))
    for bad, msg in [
        ("c64k3-d4", "64 channels"),
        ("c8k3-c8k3-c8k3-d4", "3 conv genes"),
        ("c8k3-d9", "Latent size 9"),
    ]:
        with pytest.raises(InvalidGenomeError, match=msg):
            space.check(Genome.from_compact(bad))


def test_search_space_bounds_are_checked():
    with pytest.raises(ValueError, match="min_channels must be <= max_channels"):
        SearchSpace(min_channels=64, max_channels=8)


def test_gene_models_reject_bad_values():
    with pytest.raises(ValueError):
        ConvGene(channels=0)
    with pytest.raises(ValueError):
        PoolGene(mode="median")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DenseGene(latent=0)
