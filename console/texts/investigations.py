"""The console's /watchlist and /unknown, in English and Ukrainian: watched identities and
unknown persons, and what their actions answer."""

INVESTIGATION_TEXTS: dict[str, dict[str, str]] = {
    # --- watchlist -----------------------------------------------------------------------------
    "nav_watchlist": {"en": "Watchlist", "uk": "Стеження"},
    "home_watchlist": {
        "en": "Identities whose appearance as a candidate alerts admins at once: add, remove.",
        "uk": "Особи, поява яких серед кандидатів одразу сповіщає адміністраторів: додати, "
        "прибрати.",
    },
    "watchlist_title": {"en": "Watchlist", "uk": "Стеження"},
    "watchlist_intro": {
        "en": "When any lookup gives a watched identity as a candidate, the admins named get a "
        "message in Telegram at once; more lookups of it within the alert window arrive as one "
        "count.",
        "uk": "Коли будь-який пошук дає особу під стеженням як кандидата, вказані адміністратори "
        "одразу отримують повідомлення в Telegram; подальші пошуки протягом вікна сповіщень "
        "приходять одним підсумком.",
    },
    "watchlist_empty": {"en": "Nobody is watched.", "uk": "Ні за ким не стежимо."},
    "watch_reason": {"en": "Reason", "uk": "Причина"},
    "watch_until": {"en": "Until (UTC)", "uk": "До (UTC)"},
    "watch_until_day": {"en": "Last day (optional)", "uk": "Останній день (необов'язково)"},
    "watch_recipients": {"en": "Alerts go to", "uk": "Кого сповіщати"},
    "watch_recipients_ids": {
        "en": "Admins to alert: Telegram ids, comma-separated (empty: every admin)",
        "uk": "Кого сповіщати: Telegram ID через кому (порожньо: усіх адміністраторів)",
    },
    "watch_bands": {"en": "On", "uk": "Про"},
    "watch_by": {"en": "Added by", "uk": "Додав(-ла)"},
    "watch_identity": {"en": "Identity #", "uk": "Особа №"},
    "watch_strong_only": {
        "en": "Strong matches only (no alerts for possible ones)",
        "uk": "Лише сильні збіги (без сповіщень про можливі)",
    },
    "watch_add": {"en": "Watch an identity", "uk": "Стежити за особою"},
    "watch_add_button": {"en": "Watch", "uk": "Стежити"},
    "watch_remove": {"en": "Stop watching", "uk": "Припинити"},
    "watch_every_admin": {"en": "every admin", "uk": "усі адміністратори"},
    "watch_no_expiry": {"en": "until removed", "uk": "доки не скасують"},
    "watch_bands_all": {"en": "strong and possible", "uk": "сильні та можливі"},
    "watch_bands_strong": {"en": "strong only", "uk": "лише сильні"},
    "notice_watched": {"en": "The identity is watched.", "uk": "За особою стежимо."},
    "notice_unwatched": {
        "en": "The identity is no longer watched (the entry stays on record).",
        "uk": "За особою більше не стежимо (запис лишається в історії).",
    },
    "error_watch_which": {
        "en": "Which identity? Give its number.",
        "uk": "Яка особа? Вкажіть її номер.",
    },
    "error_watch_day": {"en": "The last day is not a date.", "uk": "Останній день — не дата."},
    "error_watch_recipients": {
        "en": "Give the admins to alert as Telegram ids, comma-separated.",
        "uk": "Вкажіть адміністраторів як Telegram ID через кому.",
    },
    "error_watch_already": {
        "en": "This identity is watched already: stop watching it first to change the entry.",
        "uk": "За цією особою вже стежимо: щоб змінити запис, спершу припиніть стеження.",
    },
    "error_watch_not_admins": {
        "en": "Alerts go to approved admins only: one of the ids is not.",
        "uk": "Сповіщення отримують лише адміністратори: один з ID не є адміністратором.",
    },
    "error_watch_past": {"en": "The last day is in the past.", "uk": "Останній день уже минув."},
    "error_watch_reason_empty": {
        "en": "Say why the identity is watched: every alert tells it.",
        "uk": "Вкажіть причину стеження: кожне сповіщення її називає.",
    },
    "error_watch_reason_too_long": {
        "en": "The reason is too long (at most 500 characters).",
        "uk": "Причина задовга (не більше 500 символів).",
    },
    "error_not_watched": {
        "en": "That identity is not watched.",
        "uk": "За цією особою не стежимо.",
    },
    # --- unknown persons -----------------------------------------------------------------------
    "nav_unknown": {"en": "Unknown persons", "uk": "Невідомі особи"},
    "home_unknown": {
        "en": "Faces photographed more than once that nobody has named: name or dismiss.",
        "uk": "Обличчя, сфотографовані кілька разів, яких ніхто не назвав: назвати або "
        "розформувати.",
    },
    "unknown_title": {"en": "Unknown persons", "uk": "Невідомі особи"},
    "unknown_intro": {
        "en": "A face that got no candidate is kept for the retention period; the same face "
        "photographed again is grouped with it, at a stated rate of wrongly joined strangers "
        "(1 in 10,000). The last seen first.",
        "uk": "Обличчя без кандидатів зберігається протягом строку зберігання; те саме обличчя, "
        "сфотографоване знову, групується з ним із заявленою часткою помилково об'єднаних "
        "незнайомців (1 з 10 000). Спершу ті, кого бачили останніми.",
    },
    "unknown_empty": {
        "en": "No unknown person has been photographed more than once.",
        "uk": "Жодну невідому особу не фотографували більше одного разу.",
    },
    "unknown_sightings": {"en": "Sightings", "uk": "Фото"},
    "unknown_first": {"en": "First (UTC)", "uk": "Перше (UTC)"},
    "unknown_last": {"en": "Last (UTC)", "uk": "Останнє (UTC)"},
    "unknown_seen": {"en": "Seen (UTC)", "uk": "Бачили (UTC)"},
    "unknown_person_title": {"en": "Unknown person #{id}", "uk": "Невідома особа №{id}"},
    "unknown_state_open": {"en": "open", "uk": "відкрита"},
    "unknown_state_named": {"en": "named", "uk": "названа"},
    "unknown_state_dismissed": {"en": "dismissed", "uk": "розформована"},
    "unknown_state_merged": {"en": "merged into another", "uk": "об'єднана з іншою"},
    "unknown_state_expired": {"en": "expired", "uk": "минув строк"},
    "unknown_named_as": {"en": "Named as identity", "uk": "Названо як особу"},
    "unknown_sighting_alt": {"en": "Sighting {n}", "uk": "Фото {n}"},
    "unknown_no_sightings": {"en": "No sightings left.", "uk": "Фото не лишилося."},
    "unknown_name": {"en": "Name this person", "uk": "Назвати особу"},
    "unknown_name_help": {
        "en": "Makes an identity of them: their best sightings become its reference faces, and "
        "the next photo of them gets it as a candidate.",
        "uk": "Створює особу: найкращі фото стають її еталонами, і наступне фото цієї людини "
        "дасть її як кандидата.",
    },
    "unknown_name_button": {"en": "Make an identity", "uk": "Створити особу"},
    "unknown_dismiss": {"en": "A wrong grouping", "uk": "Хибне групування"},
    "unknown_dismiss_help": {
        "en": "These sightings are not one person: they are never grouped together again.",
        "uk": "Ці фото не однієї людини: вони більше ніколи не групуватимуться разом.",
    },
    "unknown_dismiss_button": {"en": "Dismiss", "uk": "Розформувати"},
    "notice_named_from_unknown": {
        "en": "The unknown person is now this identity.",
        "uk": "Невідома особа тепер ця особа.",
    },
    "notice_dismissed": {
        "en": "Dismissed: its sightings will not be grouped together again.",
        "uk": "Розформовано: ці фото більше не групуватимуться разом.",
    },
    "error_unknown_not_open": {
        "en": "This unknown person is no longer open (named, dismissed or merged).",
        "uk": "Ця невідома особа вже не відкрита (названа, розформована чи об'єднана).",
    },
}
