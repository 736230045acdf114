"""migration programme: parties, registration, exchange files, demand, allocation,
authorisation, notices, attempts, flag changes, programme days; a generic work queue; one
installation per SMSO reference

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

EUI = sa.String(length=23)
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("installation") as batch_op:
        batch_op.drop_constraint("uq_installation_batch_id", type_="unique")
        batch_op.add_column(sa.Column("party", EUI, nullable=True))
        batch_op.add_column(sa.Column("authorised_by", EUI, nullable=True))
        batch_op.add_column(sa.Column("authorised_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("scheduled_for", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("retry_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("blocked", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_unique_constraint("uq_installation_smso_reference", ["smso", "reference"])
        batch_op.create_index("ix_installation_mpan", ["mpan"])
        batch_op.create_index("ix_installation_mprn", ["mprn"])
        batch_op.create_index("ix_installation_party_state", ["party", "state"])
        batch_op.create_index("ix_installation_scheduled_for", ["scheduled_for"])
    # Installations migrated before the programme existed were authorised by running `migrate`.
    op.execute("UPDATE installation SET authorised_by = 'operator'")
    old_work = sa.table(
        "work_item", sa.column("installation_id", sa.Integer), sa.column("step", sa.String)
    )
    bind = op.get_bind()
    carried = [
        (row.installation_id, row.step)
        for row in bind.execute(sa.select(old_work.c.installation_id, old_work.c.step))
    ]
    op.drop_table("work_item")
    work = op.create_table(
        "work_item",
        sa.Column("queue", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("due_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("queue", "subject_id", name=op.f("pk_work_item")),
    )
    # Commissioning in progress carries on; installations that waited for testing are released
    # again by the next `migrate` of their file.
    now = sa.func.current_timestamp()
    resumed = [i for i, step in carried if step == "commission"]
    for installation_id in resumed:
        bind.execute(
            work.insert().values(
                queue="migration", subject_id=installation_id, step="commission", created_at=now
            )
        )
    op.create_table(
        "batch_refusal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["migration_batch.id"],
            name=op.f("fk_batch_refusal_batch_id_migration_batch"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_refusal")),
    )
    op.create_index(op.f("ix_batch_refusal_batch_id"), "batch_refusal", ["batch_id"])
    op.create_table(
        "party",
        sa.Column("eui", EUI, nullable=False),
        sa.Column("short_code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("roles", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("eui", name=op.f("pk_party")),
    )
    op.create_table(
        "registration",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mpxn", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("supplier", EUI, nullable=False),
        sa.Column("network_operator", EUI, nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration")),
        sa.UniqueConstraint("mpxn", "effective_from", name="uq_registration_mpxn_effective"),
    )
    op.create_table(
        "exchange_file",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("faults", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_file")),
        sa.UniqueConstraint("digest", "name", name="uq_exchange_file_digest_name"),
    )
    op.create_table(
        "demand",
        sa.Column("party", EUI, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cohort", sa.String(length=16), nullable=False),
        sa.Column("installations", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("party", "day", "cohort", name=op.f("pk_demand")),
    )
    op.create_table(
        "allocation",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cohort", sa.String(length=16), nullable=False),
        sa.Column("party", EUI, nullable=False),
        sa.Column("demand", sa.Integer(), nullable=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("scheduled", sa.Integer(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("day", "cohort", "party", name=op.f("pk_allocation")),
    )
    op.create_table(
        "authorisation",
        sa.Column("mpxn", sa.String(length=24), nullable=False),
        sa.Column("party", EUI, nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("authorised_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("mpxn", name=op.f("pk_authorisation")),
    )
    op.create_table(
        "notice",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("party", EUI, nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installation.id"],
            name=op.f("fk_notice_installation_id_installation"),
        ),
        sa.PrimaryKeyConstraint("kind", "installation_id", "day", name=op.f("pk_notice")),
    )
    op.create_table(
        "attempt",
        sa.Column("installation_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("party", EUI, nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["installation_id"],
            ["installation.id"],
            name=op.f("fk_attempt_installation_id_installation"),
        ),
        sa.PrimaryKeyConstraint("installation_id", "number", name=op.f("pk_attempt")),
    )
    op.create_index(op.f("ix_attempt_day"), "attempt", ["day"])
    op.create_table(
        "flag_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mpxn", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        sa.Column("flag", sa.String(length=16), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_change")),
    )
    op.create_index(op.f("ix_flag_change_day"), "flag_change", ["day"])
    op.create_table(
        "programme_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("completed_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_programme_day")),
    )
    op.create_table(
        "party_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("party", EUI, nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("day", "party", name=op.f("pk_party_day")),
    )


def downgrade() -> None:
    raise NotImplementedError("revision 0003 cannot be undone: restore a backup instead")
