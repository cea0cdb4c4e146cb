"""The console's /audit, in English and Ukrainian: the chain's state, the witness, the rows."""

AUDIT_TEXTS: dict[str, dict[str, str]] = {
    "nav_audit": {"en": "Audit", "uk": "Аудит"},
    "home_audit": {
        "en": "The sealed record of every action and view: its check, who did what, as CSV.",
        "uk": "Захищений журнал кожної дії та перегляду: перевірка, хто що робив, CSV.",
    },
    "audit_title": {"en": "Audit log", "uk": "Журнал аудиту"},
    "audit_chain": {"en": "The chain", "uk": "Ланцюг"},
    "audit_chain_ok": {"en": "Checked: intact", "uk": "Перевірено: цілий"},
    "audit_chain_broken": {"en": "Checked: NOT intact", "uk": "Перевірено: ПОШКОДЖЕНО"},
    "audit_checked_at": {"en": "checked at {when} UTC", "uk": "перевірено {when} UTC"},
    "audit_check_again": {"en": "Check the whole chain now", "uk": "Перевірити весь ланцюг зараз"},
    "audit_head": {
        "en": "The log: {rows} rows, the last #{last} (seal {seal}…)",
        "uk": "Журнал: записів {rows}, останній №{last} (печатка {seal}…)",
    },
    "audit_witness": {
        "en": "The witness in the data folder saw {rows} rows up to #{last} (seal {seal}…), at "
        "{when}",
        "uk": "Свідок у теці даних бачив {rows} записів до №{last} (печатка {seal}…), {when}",
    },
    "audit_no_witness": {
        "en": "The data folder's witness has not seen this log.",
        "uk": "Свідок у теці даних цього журналу не бачив.",
    },
    "audit_filter_actor": {
        "en": "Who (tg:ID, cli:login, system)",
        "uk": "Хто (tg:ID, cli:логін, system)",
    },
    "audit_filter_action": {"en": "Action (e.g. lookup.view)", "uk": "Дія (напр. lookup.view)"},
    "audit_filter_target": {"en": "About (e.g. identity:12)", "uk": "Щодо (напр. identity:12)"},
    "audit_csv": {"en": "Download these rows as CSV", "uk": "Завантажити ці записи як CSV"},
    "audit_empty": {"en": "No row matches.", "uk": "Жодного запису за цими умовами."},
    "notice_chain_ok": {"en": "The whole chain checks.", "uk": "Весь ланцюг перевірено: цілий."},
    "notice_chain_broken": {
        "en": "The chain does NOT check: see below, and docs/operations.md.",
        "uk": "Ланцюг НЕ проходить перевірку: див. нижче і docs/operations.md.",
    },
}
