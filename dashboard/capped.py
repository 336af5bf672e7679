"""A list's first rows and how many it holds: what each worklist section shows (the first 25,
the count, a link to the whole list), read in a fixed number of queries at any study size."""

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import connection
from django.db.models import F, Func, IntegerField, OrderBy, QuerySet, Subquery, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber


def _counted(queryset: QuerySet) -> QuerySet:
    """How many rows `queryset` holds, read without the joins, ordering and columns of the rows
    shown. COUNT(*), not of a column: PostgreSQL then counts from the index alone on pages
    marked all-visible, without reading the rows."""
    return queryset.order_by().values(n=Func(template="COUNT(*)", output_field=IntegerField()))


def count_of(queryset: QuerySet) -> Subquery:
    """Annotation: how many rows `queryset` holds, as an uncorrelated subquery (PostgreSQL runs
    it once, an InitPlan)."""
    return Subquery(_counted(queryset), output_field=IntegerField())


def first_rows(queryset: QuerySet, limit: int) -> tuple[list, int]:
    """The first `limit` rows of `queryset` and how many it holds, in one query. The ids of the
    first rows are picked in a subquery (the filters and the order, none of the related rows
    shown), so they are read from their index in order and the read stops at the limit; the
    related rows are joined to those ids only, and the total is a subquery of its own (a window
    count over the rows would join and read every row first)."""
    first = Subquery(queryset.values("pk")[:limit])
    # The outer query reads those ids only (not the filters again: the planner would then join
    # every matching row before keeping 25), with the related rows and order of `queryset`.
    rows = queryset.model._base_manager.filter(pk__in=first).order_by(*queryset.query.order_by)
    _read_like(rows, queryset)
    rows = list(rows.annotate(total=count_of(queryset)))
    return rows, (rows[0].total if rows else 0)


def _leading_column(queryset: QuerySet) -> tuple[str, bool] | None:
    """(name, descending) of the first key of the order of `queryset` when it is a column of the
    row itself that is never NULL, else None."""
    key = queryset.query.order_by[0]
    if (
        not queryset.query.standard_ordering
        or not isinstance(key, str)
        or "__" in key
        or key.lstrip("-") in ("?", "pk")
    ):
        return None
    name = key.lstrip("-")
    try:
        field = queryset.model._meta.get_field(name)
    except FieldDoesNotExist:  # an annotation, not a field
        return None
    if field.null or not field.concrete or field.is_relation:
        return None
    return name, key.startswith("-")


def _within_first(queryset: QuerySet, limit: int) -> QuerySet:
    """`queryset` narrowed to the rows whose first order key is within the first `limit` rows'
    (ties included): those rows hold the first `limit` in the full order. The cut-off is read
    from the index of that key, stopping at the limit, so the full order (with its joins, e.g.
    the screening number) is ranked over a day's rows, not every row of the list (11k visits
    with a closed window in a study of 50k)."""
    leading = _leading_column(queryset)
    if leading is None:
        return queryset
    name, descending = leading
    column = queryset.model._meta.get_field(name)
    cut_sql, cut_params = (
        queryset.order_by(f"-{name}" if descending else name)
        .values(_cut=F(name))[:limit]
        .query.sql_with_params()
    )
    edge = "MIN" if descending else "MAX"
    cut = RawSQL(f"SELECT {edge}(c._cut) FROM ({cut_sql}) c", cut_params, output_field=column)
    return queryset.filter(**{f"{name}__{'gte' if descending else 'lte'}": cut})


def _placed_ids(queryset: QuerySet, limit: int) -> QuerySet:
    """(id, place in the order of `queryset`) of its first `limit` rows."""
    order = [
        OrderBy(F(key.lstrip("-")), descending=key.startswith("-")) if isinstance(key, str) else key
        for key in queryset.query.order_by
    ]
    placed = _within_first(queryset, limit).annotate(_place=Window(RowNumber(), order_by=order))
    return placed.order_by("_place").values_list("pk", "_place")[:limit]


def first_rows_of_each(lists: dict[str, QuerySet], limit: int) -> dict[str, tuple[list, int]]:
    """first_rows of several lists of one model (key -> queryset), in two queries whatever their
    number: the ids of each list's first `limit` rows, with their places, and each list's count,
    in one UNION ALL; then the rows of those ids, with the related rows of the first list's
    select_related. Each list read on its own costs a query that PostgreSQL plans with all its
    joins (2-3 ms) and Django compiles: four worklist sections were four of them."""
    if not lists:
        return {}
    first = next(iter(lists.values()))
    for queryset in lists.values():
        # Rows are shared between lists by id, placed by each list's own explicit order.
        related = queryset.query.select_related
        if not queryset.query.order_by or related not in (False, first.query.select_related):
            raise ValueError(
                "first_rows_of_each: each list needs an order_by, and the first list's "
                "select_related (or none)"
            )
        if not queryset.query.standard_ordering:  # places are ranked from order_by as written
            raise ValueError("first_rows_of_each: a list read with .reverse(): write its order")
    keys = list(lists)
    parts, params = [], []
    for n, queryset in enumerate(lists.values()):
        try:
            placed_sql, placed_params = _placed_ids(queryset, limit).query.sql_with_params()
            count_sql, count_params = _counted(queryset).query.sql_with_params()
        except EmptyResultSet:  # a list that can hold nothing (no site, .none()): no rows
            continue
        parts += [
            f"SELECT {n}, t.*, NULL FROM ({placed_sql}) t",
            f"SELECT {n}, NULL, NULL, ({count_sql})",
        ]
        params += [*placed_params, *count_params]
    found = []
    if parts:
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            found = cursor.fetchall()
    placed: dict[str, list] = {key: [] for key in keys}
    totals: dict[str, int] = {}
    for n, pk, place, count in found:
        if pk is None:
            totals[keys[n]] = count or 0
        else:
            placed[keys[n]].append((place, pk))
    # The rows are read with the first list's columns when every list reads those (only()),
    # else whole: a column one list needs is never left to a query per row.
    like = first
    if any(q.query.deferred_loading != first.query.deferred_loading for q in lists.values()):
        like = first.all()
        like.query.clear_deferred_loading()
    by_id = _rows_by_id(like, {pk for rows in placed.values() for _, pk in rows})
    return {
        key: ([by_id[pk] for _, pk in sorted(placed[key]) if pk in by_id], totals.get(key, 0))
        for key in keys
    }


def _rows_by_id(like: QuerySet, ids: set) -> dict:
    if not ids:
        return {}
    rows = like.model._base_manager.filter(pk__in=ids).order_by()  # placed in Python
    _read_like(rows, like)
    return {row.pk: row for row in rows}


def _read_like(rows: QuerySet, like: QuerySet) -> None:
    """`rows` read as `like` reads its rows: the same related rows, the same columns."""
    rows.query.select_related = like.query.select_related
    rows.query.deferred_loading = like.query.deferred_loading
