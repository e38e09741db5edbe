"""The tenant-scoped base every repository of a tenant's rows builds on (polar's
``RepositoryBase`` habit): one place that filters by tenant, hides soft-deleted rows, pages by id
and inserts.

Row-level security already limits every statement of a tenant session to the tenant's rows; the
explicit ``tenant_id`` filter stays anyway (defence in depth, and it lets Postgres use the
tenant indexes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, Literal, TypeVar, cast

from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from agent_runtime_core.models.base import utcnow

ModelT = TypeVar("ModelT", bound=SQLModel)


class TenantRepository(Generic[ModelT]):
    """Rows of ``model`` that belong to one tenant.

    Subclasses set ``model``. A model with a ``deleted_at`` column is soft-deleted: its deleted
    rows are invisible to :meth:`get_for_tenant` and :meth:`scoped` unless asked for.
    """

    model: type[ModelT]

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def column(self, name: str) -> ColumnElement[Any]:
        """The column ``name`` of the model, for filters the base builds."""
        return cast(ColumnElement[Any], getattr(self.model, name))

    @property
    def soft_deletes(self) -> bool:
        """Whether rows are marked deleted (``deleted_at``) rather than removed."""
        return "deleted_at" in self.model.model_fields

    def scoped(self, *, include_deleted: bool = False) -> SelectOfScalar[ModelT]:
        """``SELECT`` of this tenant's rows (live ones only, unless ``include_deleted``)."""
        statement = select(self.model).where(self.column("tenant_id") == self.tenant_id)
        if self.soft_deletes and not include_deleted:
            statement = statement.where(self.column("deleted_at").is_(None))
        return statement

    async def get_for_tenant(
        self, row_id: str, *, for_update: bool = False, include_deleted: bool = False
    ) -> ModelT | None:
        """The row ``row_id`` of this tenant, or ``None`` (another tenant's row is ``None`` too)."""
        statement = self.scoped(include_deleted=include_deleted).where(self.column("id") == row_id)
        if for_update:
            # A locked read returns the row as locked, even if this session loaded it before.
            statement = statement.with_for_update().execution_options(populate_existing=True)
        return (await self.session.exec(statement)).first()

    async def page(
        self,
        statement: SelectOfScalar[ModelT],
        *,
        limit: int,
        cursor_id: str | None = None,
        order: Literal["newest_first", "oldest_first"] = "newest_first",
    ) -> Sequence[ModelT]:
        """Up to ``limit`` rows of ``statement`` ordered by id (ids are time-sortable), after
        ``cursor_id`` in that order. Callers fetch ``limit + 1`` to know whether more exist."""
        key = self.column("id")
        if order == "newest_first":
            if cursor_id is not None:
                statement = statement.where(key < cursor_id)
            statement = statement.order_by(key.desc())
        else:
            if cursor_id is not None:
                statement = statement.where(key > cursor_id)
            statement = statement.order_by(key)
        return (await self.session.exec(statement.limit(limit))).all()

    async def add(self, row: ModelT) -> ModelT:
        """Insert ``row`` (flushed, so constraint violations surface here)."""
        if getattr(row, "tenant_id", None) != self.tenant_id:
            raise ValueError(f"a {type(row).__name__} must belong to the repository's tenant")
        self.session.add(row)
        await self.session.flush()
        return row

    async def soft_delete(self, row: ModelT) -> ModelT:
        """Mark ``row`` deleted (and updated, when the model tracks it) without removing it."""
        if not self.soft_deletes:
            raise TypeError(f"{self.model.__name__} has no deleted_at column; it cannot be soft-deleted")
        now = utcnow()
        setattr(row, "deleted_at", now)  # noqa: B010 (the attribute exists only on some models)
        if "updated_at" in self.model.model_fields:
            setattr(row, "updated_at", now)  # noqa: B010
        self.session.add(row)
        await self.session.flush()
        return row
