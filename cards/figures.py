"""A merchant's cards in figures (``CardFigures``), kept by the database itself.

The provider console (SPEC §8) shows and sorts hundreds of merchants by their cards
in review, approved and rejected, their stock left, and alerts on low stock and
coupons about to end. Read from the cards, that is a few correlated subqueries per
merchant on every page (on PostgreSQL several milliseconds for 500 merchants).
Instead a row per merchant holds the figures, and **triggers on the cards table
recompute the merchant's row on every insert, update and delete**, inside the
writing transaction: whatever wrote the card (a service, a conditional
``UPDATE``, ``bulk_create``, the admin, a cascade) the figures agree with the cards.

The row is recomputed from the merchant's cards, not adjusted by deltas, so a
missed write can never accumulate into drift. On PostgreSQL the trigger first locks
the merchant's row, and then counts in a statement of its own: under READ COMMITTED
that statement sees every transaction that held the lock before (two tills writing
two cards of one merchant at once both count).

A time-dependent figure (a coupon that ends within 7 days) cannot be stored: the
row keeps the first and last end of the approved cards, and the console looks at
the cards only for a merchant whose ends straddle the window.

``install()`` runs in migration 0004 and after every ``migrate`` (``apps.py``):
SQLite drops a table's triggers when a migration rebuilds the table, and this puts
them back.
"""

from __future__ import annotations

# The statuses as stored (cards.models.CardStatus), fixed here like a migration's.
IN_REVIEW = "CARD_STATUS_NOT_VERIFY"
APPROVED = "CARD_STATUS_VERIFY_OK"
REJECTED = "CARD_STATUS_VERIFY_FAIL"

CARDS = "cards_friendcard"
FIGURES = "cards_cardfigures"
COLUMNS = (
    "in_review",
    "approved",
    "rejected",
    "stock",
    "min_stock",
    "first_end_at",
    "last_end_at",
)


def _aggregates(alias: str = "") -> str:
    """The figures of a merchant's cards, in COLUMNS' order."""
    c = f"{alias}." if alias else ""
    approved = f"{c}status = '{APPROVED}'"
    return (
        f"COUNT(CASE WHEN {c}status = '{IN_REVIEW}' THEN 1 END), "
        f"COUNT(CASE WHEN {approved} THEN 1 END), "
        f"COUNT(CASE WHEN {c}status = '{REJECTED}' THEN 1 END), "
        f"COALESCE(SUM(CASE WHEN {approved} THEN {c}quantity END), 0), "
        f"MIN(CASE WHEN {approved} THEN {c}quantity END), "
        f"MIN(CASE WHEN {approved} THEN {c}end_at END), "
        f"MAX(CASE WHEN {approved} THEN {c}end_at END)"
    )


# --- SQLite: one writer at a time; an upsert (grouped: nothing for no card), and
# no row for a merchant without a card.
def _sqlite_refresh(row: str, when: str = "") -> str:
    extra = f" AND {when}" if when else ""
    updates = ", ".join(f"{name} = excluded.{name}" for name in COLUMNS)
    return (
        f"INSERT INTO {FIGURES} (merchant_id, {', '.join(COLUMNS)}) "
        f"SELECT {row}.merchant_id, {_aggregates()} FROM {CARDS} "
        f"WHERE merchant_id = {row}.merchant_id{extra} GROUP BY merchant_id "
        f"ON CONFLICT (merchant_id) DO UPDATE SET {updates}; "
        f"DELETE FROM {FIGURES} WHERE merchant_id = {row}.merchant_id{extra} "
        f"AND NOT EXISTS (SELECT 1 FROM {CARDS} WHERE merchant_id = {row}.merchant_id);"
    )


_SQLITE = [
    f"CREATE TRIGGER IF NOT EXISTS card_figures_insert AFTER INSERT ON {CARDS} "
    f"BEGIN {_sqlite_refresh('NEW')} END",
    f"CREATE TRIGGER IF NOT EXISTS card_figures_update "
    f"AFTER UPDATE OF merchant_id, status, quantity, end_at ON {CARDS} "
    f"BEGIN {_sqlite_refresh('NEW')} "
    f"{_sqlite_refresh('OLD', 'OLD.merchant_id <> NEW.merchant_id')} END",
    f"CREATE TRIGGER IF NOT EXISTS card_figures_delete AFTER DELETE ON {CARDS} "
    f"BEGIN {_sqlite_refresh('OLD')} END",
]

# --- PostgreSQL: lock the merchant's row, then count in a statement of its own.
# (Every name in these statements is a constant of this module.)
_PG = [
    f"""
CREATE OR REPLACE FUNCTION card_figures_refresh(m bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  f {FIGURES}%ROWTYPE;
BEGIN
  INSERT INTO {FIGURES} (merchant_id, {", ".join(COLUMNS)})
    VALUES (m, 0, 0, 0, 0, NULL, NULL, NULL) ON CONFLICT (merchant_id) DO NOTHING;
  PERFORM 1 FROM {FIGURES} WHERE merchant_id = m FOR UPDATE;
  SELECT m, {_aggregates("c")}
    INTO f FROM {CARDS} c WHERE c.merchant_id = m;
  IF NOT EXISTS (SELECT 1 FROM {CARDS} WHERE merchant_id = m) THEN
    DELETE FROM {FIGURES} WHERE merchant_id = m;
  ELSE
    UPDATE {FIGURES} SET ({", ".join(COLUMNS)}) =
      ({", ".join(f"f.{name}" for name in COLUMNS)})
      WHERE merchant_id = m;
  END IF;
END $$
""",
    """
CREATE OR REPLACE FUNCTION card_figures_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM card_figures_refresh(OLD.merchant_id);
    RETURN NULL;
  END IF;
  PERFORM card_figures_refresh(NEW.merchant_id);
  IF TG_OP = 'UPDATE' AND OLD.merchant_id <> NEW.merchant_id THEN
    PERFORM card_figures_refresh(OLD.merchant_id);
  END IF;
  RETURN NULL;
END $$
""",
    f"DROP TRIGGER IF EXISTS card_figures ON {CARDS}",
    f"CREATE TRIGGER card_figures AFTER INSERT OR DELETE "
    f"OR UPDATE OF merchant_id, status, quantity, end_at ON {CARDS} "
    f"FOR EACH ROW EXECUTE FUNCTION card_figures_trigger()",
]

_DROP = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS card_figures_insert",
        "DROP TRIGGER IF EXISTS card_figures_update",
        "DROP TRIGGER IF EXISTS card_figures_delete",
    ],
    "postgresql": [
        f"DROP TRIGGER IF EXISTS card_figures ON {CARDS}",
        "DROP FUNCTION IF EXISTS card_figures_trigger()",
        "DROP FUNCTION IF EXISTS card_figures_refresh(bigint)",
    ],
}


def install(connection) -> None:
    """Create (or re-create) the triggers on ``connection``'s database."""
    statements = {"sqlite": _SQLITE, "postgresql": _PG}.get(connection.vendor)
    if statements is None:
        raise NotImplementedError(f"card figures on {connection.vendor}")
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def uninstall(connection) -> None:
    with connection.cursor() as cursor:
        for statement in _DROP.get(connection.vendor, []):
            cursor.execute(statement)


def rebuild(connection) -> None:
    """Every merchant's row recomputed from its cards (the migration's backfill)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {FIGURES}")
        cursor.execute(
            f"INSERT INTO {FIGURES} (merchant_id, {', '.join(COLUMNS)}) "
            f"SELECT merchant_id, {_aggregates()} FROM {CARDS} GROUP BY merchant_id"
        )
