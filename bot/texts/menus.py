"""The command menus and the help, in English and Ukrainian: what the bot says it can do."""

MENU_TEXTS: dict[str, dict[str, str]] = {
    # --- command menus -------------------------------------------------------------------------
    "cmd_start": {"en": "Start", "uk": "Почати"},
    "cmd_help": {"en": "How to use the bot", "uk": "Як користуватися ботом"},
    "cmd_history": {"en": "My last lookups", "uk": "Мої останні пошуки"},
    "cmd_status": {
        "en": "Waiting and undelivered replies",
        "uk": "Черга та недоставлені відповіді",
    },
    "cmd_pending": {"en": "Access requests", "uk": "Запити на доступ"},
    "cmd_users": {"en": "All users", "uk": "Усі користувачі"},
    "cmd_approve": {"en": "Approve a user: /approve ID", "uk": "Схвалити: /approve ID"},
    "cmd_reject": {"en": "Reject a request: /reject ID", "uk": "Відхилити запит: /reject ID"},
    "cmd_revoke": {"en": "Revoke access: /revoke ID", "uk": "Скасувати доступ: /revoke ID"},
    "cmd_promote": {"en": "Make admin: /promote ID", "uk": "Зробити адміністратором: /promote ID"},
    "cmd_demote": {"en": "Remove admin: /demote ID", "uk": "Зняти адміністратора: /demote ID"},
    "cmd_enroll": {
        "en": "Add a reference face: /enroll Name | ref",
        "uk": "Додати еталонне обличчя: /enroll Ім'я | посилання",
    },
    "cmd_identity": {
        "en": "Show an identity: /identity NAME or ID",
        "uk": "Показати особу: /identity ІМ'Я або ID",
    },
    "cmd_forget": {"en": "Remove an identity: /forget ID", "uk": "Видалити особу: /forget ID"},
    "cmd_restore": {
        "en": "Restore a forgotten identity: /restore ID",
        "uk": "Відновити видалену особу: /restore ID",
    },
    "cmd_lookups": {
        "en": "Lookups: /lookups [user] [date]",
        "uk": "Пошуки: /lookups [користувач] [дата]",
    },
    "cmd_lookup": {"en": "Show a lookup: /lookup N", "uk": "Показати пошук: /lookup N"},
    "cmd_export": {"en": "CSV export: /export FROM TO", "uk": "Експорт CSV: /export ВІД ДО"},
    # --- help ----------------------------------------------------------------------------------
    "start_approved": {
        "en": "Welcome, {name}.\n\n",
        "uk": "Вітаємо, {name}.\n\n",
    },
    "help": {
        "en": "Send a photo of a person, a document or a screen. I find every face and search "
        "the gallery of enrolled identities.\n\n"
        "For the best result send the image as a file (📎 → File): Telegram compresses photos.\n\n"
        "For each face you get up to 3 candidates with their similarity and a picture of your "
        "face beside the reference face it matched. A candidate is a lead for you to verify, "
        "never an identification. When the evidence is weak you get “no confident match”.\n"
        "Use the buttons under a candidate to confirm it or mark it “not this person”.\n\n"
        "/history — your last 10 lookups\n/help — this text",
        "uk": "Надішліть фото людини, документа чи екрана. Я знайду кожне обличчя і пошукаю його "
        "в галереї внесених осіб.\n\n"
        "Для найкращого результату надсилайте зображення файлом (📎 → Файл): Telegram стискає фото.\n\n"
        "Для кожного обличчя ви отримаєте до 3 кандидатів зі схожістю та зображенням вашого "
        "обличчя поруч з еталонним, з яким його зіставлено. Кандидат — це версія для перевірки, "
        "а не встановлена особа. Коли доказів мало, ви отримаєте «немає впевненого збігу».\n"
        "Кнопками під кандидатом підтвердіть його або позначте «це не ця людина».\n\n"
        "/history — ваші останні 10 пошуків\n/help — ця довідка",
    },
    "help_admin": {
        "en": "\n\nAdministrators:\n"
        "/status — lookups waiting, replies that could not be delivered\n"
        "/pending — access requests\n/users — all users\n"
        "/approve ID, /reject ID, /revoke ID — access\n/promote ID, /demote ID — admin role\n"
        "/enroll Name | external ref — reply to a photo (or use as its caption) to add a "
        "reference face; add “| face 2” to choose a face, or use /enroll #ID for an existing "
        "identity\n"
        "/identity NAME or ID — an identity and its faces\n/forget ID — remove an identity and "
        "erase its faces\n/restore ID — undo /forget within the grace period\n"
        "/lookups [user id] [YYYY-MM-DD] — lookups\n/lookup N — show a lookup again\n"
        "/export FROM TO — CSV of lookups (dates as YYYY-MM-DD)\n"
        "/console — the web console (a one-time sign-in link)",
        "uk": "\n\nАдміністраторам:\n"
        "/status — пошуки в черзі, відповіді, які не вдалося доставити\n"
        "/pending — запити на доступ\n/users — усі користувачі\n"
        "/approve ID, /reject ID, /revoke ID — доступ\n/promote ID, /demote ID — роль адміністратора\n"
        "/enroll Ім'я | зовнішнє посилання — відповідь на фото (або підпис до нього), щоб додати "
        "еталонне обличчя; додайте «| face 2», щоб вибрати обличчя, або /enroll #ID для наявної "
        "особи\n"
        "/identity ІМ'Я або ID — особа та її обличчя\n/forget ID — видалити особу та стерти її "
        "обличчя\n/restore ID — скасувати /forget протягом пільгового строку\n"
        "/lookups [ID користувача] [РРРР-ММ-ДД] — пошуки\n/lookup N — показати пошук знову\n"
        "/export ВІД ДО — CSV пошуків (дати як РРРР-ММ-ДД)\n"
        "/console — вебконсоль (одноразове посилання для входу)",
    },
    "unknown_input": {
        "en": "Send a photo to search, or /help.",
        "uk": "Надішліть фото для пошуку або /help.",
    },
}
