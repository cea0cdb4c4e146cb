"""The console's /users, in English and Ukrainian: requests, members, decisions and what they
answer."""

USER_TEXTS: dict[str, dict[str, str]] = {
    "nav_users": {"en": "Users", "uk": "Користувачі"},
    "home_users": {
        "en": "Access requests to approve or reject; officers and admins, their activity; "
        "revoke, promote, demote.",
        "uk": "Запити на доступ; слідчі та адміністратори, їхня активність; скасувати доступ, "
        "підвищити, понизити.",
    },
    "users_title": {"en": "Users", "uk": "Користувачі"},
    "users_pending": {"en": "Access requests", "uk": "Запити на доступ"},
    "users_pending_empty": {"en": "No request waits.", "uk": "Запитів немає."},
    "users_members": {"en": "Officers and admins", "uk": "Слідчі та адміністратори"},
    "users_others": {"en": "Rejected and revoked", "uk": "Відхилені та зі скасованим доступом"},
    "users_none": {"en": "Nobody.", "uk": "Нікого."},
    "col_user": {"en": "User", "uk": "Користувач"},
    "col_role": {"en": "Role", "uk": "Роль"},
    "col_lookups": {"en": "Lookups", "uk": "Пошуки"},
    "col_last_active": {"en": "Last active (UTC)", "uk": "Остання активність (UTC)"},
    "col_asked": {"en": "Asked (UTC)", "uk": "Запит (UTC)"},
    "col_actions": {"en": "Decide", "uk": "Рішення"},
    "never": {"en": "never", "uk": "ніколи"},
    "role_admin": {"en": "admin", "uk": "адміністратор"},
    "role_officer": {"en": "officer", "uk": "слідчий"},
    "user_status_pending": {"en": "pending", "uk": "очікує"},
    "user_status_approved": {"en": "approved", "uk": "схвалено"},
    "user_status_rejected": {"en": "rejected", "uk": "відхилено"},
    "user_status_revoked": {"en": "revoked", "uk": "скасовано"},
    "action_approve": {"en": "Approve", "uk": "Схвалити"},
    "action_reject": {"en": "Reject", "uk": "Відхилити"},
    "action_revoke": {"en": "Revoke", "uk": "Скасувати доступ"},
    "action_promote": {"en": "Make admin", "uk": "Зробити адміністратором"},
    "action_demote": {"en": "Make officer", "uk": "Зробити слідчим"},
    "notice_decided": {"en": "Done.", "uk": "Готово."},
    "notice_decided_told": {
        "en": "Done. The user was told in Telegram.",
        "uk": "Готово. Користувачу повідомлено в Telegram.",
    },
    "notice_decided_not_told": {
        "en": "Done, but the user could not be told in Telegram (they may have blocked the bot, "
        "or it is out of reach): tell them yourself.",
        "uk": "Готово, але користувачу не вдалося повідомити в Telegram (можливо, він "
        "заблокував бота або бот недоступний): повідомте самі.",
    },
    "notice_decided_admin_ids": {
        "en": "Done, but this user is listed in ADMIN_IDS: the bot's next start makes them an "
        "approved admin again. Remove them from ADMIN_IDS to make this last.",
        "uk": "Готово, але цей користувач є в ADMIN_IDS: наступний запуск бота знову зробить "
        "його адміністратором. Приберіть його з ADMIN_IDS, щоб рішення діяло.",
    },
    "error_not_on_oneself": {
        "en": "You cannot lock yourself out: another admin must do that.",
        "uk": "Не можна заблокувати самого себе: це має зробити інший адміністратор.",
    },
    "error_already_decided": {
        "en": "Nothing changed: another decision came first, or the user is there already. "
        "The list shows them as they are now.",
        "uk": "Нічого не змінено: інше рішення було раніше, або користувач уже в цьому стані. "
        "Список показує поточний стан.",
    },
    "error_no_such_user": {"en": "No such user.", "uk": "Такого користувача немає."},
}
