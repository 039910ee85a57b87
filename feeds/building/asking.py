"""What an incremental plan asks the store about feeds, asked ahead for every touched feed at once.

The planner (:mod:`.planner`) reads, for each feed a change touched, its newest place, the
months with places either side of a month, a month's places and the feed's newest entries.
Asked feed by feed, that is five to seven statements a feed, and on a server store each
statement is a round trip (docs/BENCHMARKS.md, "PostgreSQL beside SQLite"). :meth:`FeedAnswers.ask_ahead`
asks what planning begins with for all the feeds in four statements (the store's ``..._each``
questions); what planning reads beyond that (the months past a month whose pages came or
went) is asked as it goes, and every answer is kept for the rest of the plan.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..rendering.archive import Place, month_bounds, month_of
from .builder import Builder, FeedKey


class FeedAnswers:
    """The store's answers about feeds for one incremental plan, asked once each."""

    def __init__(self, builder: Builder):
        self.b = builder
        self._places: dict[tuple[FeedKey, str], list[Place]] = {}       # a month's places
        self._near: dict[tuple[FeedKey, int, bool], int | None] = {}   # place_near
        self._windows: dict[FeedKey, list[str]] = {}                    # newest entries

    def places(self, key: FeedKey, month: str) -> list[Place]:
        """The feed's places in ``month``."""
        if (key, month) not in self._places:
            self._ask_places([(key, month)])
        return self._places[key, month]

    def neighbour(self, key: FeedKey, month: str, *, before: bool) -> str | None:
        """The month with places just before (or after) ``month``."""
        ts = self._place_near(key, _moment(month, before, self.b), before=before)
        return month_of(ts, self.b.site.zone) if ts is not None else None

    def newest(self, key: FeedKey) -> str | None:
        """The month of the feed's newest place."""
        ts = self._place_near(key, self.b.now + timedelta(seconds=1), before=True)
        return month_of(ts, self.b.site.zone) if ts is not None else None

    def window(self, key: FeedKey) -> list[str]:
        """The feed's newest entries."""
        if key not in self._windows:
            self._windows[key] = self.b.window(key)
        return self._windows[key]

    def ask_ahead(self, keys: list[FeedKey], touched: dict[FeedKey, set[str]], still: dict[FeedKey, set[str]]) -> None:
        """Ask at once, for every feed of ``keys``, what planning it begins with: its newest place
        and entries, the months either side of its ``touched`` months and of its newest month,
        and the places of all those months and of its ``still`` ones."""
        b = self.b
        if not keys:
            return
        self._ask_near([(key, b.now + timedelta(seconds=1), True) for key in keys]
                       + [(key, _moment(month, before, b), before)
                          for key in keys for month in touched[key] for before in (True, False)])
        self._windows.update(zip(keys, b.store.latest_ids_each([key or (None, None) for key in keys], b.now,
                                                                b.site.items_per_feed)))
        newest = {key: self.newest(key) for key in keys}
        self._ask_near([(key, _moment(month, True, b), True) for key, month in newest.items() if month])
        months: list[tuple[FeedKey, str]] = []
        for key in keys:
            around = [self.neighbour(key, month, before=before) for month in touched[key] for before in (True, False)]
            if newest[key]:
                around += [newest[key], self.neighbour(key, newest[key], before=True)]
            months += [(key, month) for month in (*sorted(touched[key] | still.get(key, set())), *around) if month]
        self._ask_places(months)

    def _place_near(self, key: FeedKey, moment: datetime, *, before: bool) -> int | None:
        if (key, int(moment.timestamp()), before) not in self._near:
            self._ask_near([(key, moment, before)])
        return self._near[key, int(moment.timestamp()), before]

    def _ask_near(self, questions: list[tuple[FeedKey, datetime, bool]]) -> None:
        asked = {(key, int(moment.timestamp()), before): (key, moment, before) for key, moment, before in questions}
        todo = [question for memo, question in asked.items() if memo not in self._near]
        answers = self.b.store.place_near_each([(*(key or (None, None)), moment, before)
                                                for key, moment, before in todo], self.b.now) if todo else []
        for (key, moment, before), ts in zip(todo, answers):
            self._near[key, int(moment.timestamp()), before] = ts

    def _ask_places(self, months: list[tuple[FeedKey, str]]) -> None:
        todo = [memo for memo in dict.fromkeys(months) if memo not in self._places]
        spans = [(*(key or (None, None)), *month_bounds(month, self.b.site.zone)) for key, month in todo]
        for memo, places in zip(todo, self.b.store.places_each(spans, self.b.now) if todo else []):
            self._places[memo] = places


def _moment(month: str, before: bool, builder: Builder) -> datetime:
    """Where the months before ``month`` end, or those after it begin."""
    start, end = month_bounds(month, builder.site.zone)
    return start if before else end
