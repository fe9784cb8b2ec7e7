"""``birdview`` subcommands — similarity search over the stored embeddings."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from birdview.cli.common import open_project

if TYPE_CHECKING:
    pass


def _search(argv: list[str]) -> int:
    from birdview.review.similarity import (
        COMBINE,
        EXACT_LIMIT,
        parse_like,
        save_for_review,
        search,
        write_hits,
    )

    parser = argparse.ArgumentParser(
        prog="birdview search",
        description="Find the windows most like one or more examples, by cosine similarity of a model's stored "
        "embeddings (score the recordings first).",
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument(
        "--like",
        action="append",
        required=True,
        metavar="RECORDING:START-END",
        help="an example: a recording (its path or name in the project) and seconds; give several to combine",
    )
    parser.add_argument("--model", type=int, metavar="VERSION", help="whose embeddings (default: the active model)")
    parser.add_argument("--top", type=int, default=200)
    parser.add_argument("--site", help="only recordings of this site")
    parser.add_argument(
        "--combine", choices=COMBINE, default="mean", help="several examples: their mean, or each window's best match"
    )
    parser.add_argument("--out", type=Path, help="CSV: recording,start_s,end_s,similarity, best first")
    parser.add_argument(
        "--exact",
        action="store_true",
        help="compare with every stored embedding even where the model's approximate index would answer "
        f"(searches over more than {EXACT_LIMIT:,} windows)",
    )
    parser.add_argument(
        "--review",
        action="store_true",
        help="keep the hits as the project's 'similar' review list (the Review dock's order 'similar to the examples')",
    )
    parser.add_argument("--species", metavar="CODE", help="with --review: the species the hits are candidates of")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    if args.out is None and not args.review:
        parser.error("give --out, --review or both")
    if args.review and not args.species:
        parser.error("--review needs --species CODE: what the hits are candidates of")
    with open_project(args.project) as project:
        model = project.model(args.model) if args.model else project.active_model()
        if model is None:
            print("birdview search: error: no model in the project (birdview models --add ...)", file=sys.stderr)
            return 2
        if not model.embedding_dim:
            print(f"birdview search: error: model {model.label} keeps no embeddings", file=sys.stderr)
            return 2
        queries = [parse_like(project, spec) for spec in args.like]
        species = None
        if args.review:
            species = project.resolve_species(args.species) or (args.species if args.species in model.classes else None)
            if species is None:
                print(f"birdview search: error: unknown species {args.species!r}", file=sys.stderr)
                return 2
        hits = search(
            project, model.version, queries, args.top, args.combine, site=args.site, exact=args.exact, say=_say
        )
        if args.out is not None:
            print(write_hits(project, hits, args.out))
        if species is not None:
            save_for_review(project, model.version, queries, hits, species)
    print(f"{len(hits)} window(s) like {len(queries)} example(s), by model {model.label}", file=sys.stderr)
    if species is not None:
        print(
            f"kept for review as candidates of {species}: Review dock, order 'similar to the examples'", file=sys.stderr
        )
    return 0


def _say(message: str) -> None:
    print(f"birdview search: {message}", file=sys.stderr)


COMMANDS = {"search": _search}
