"""Access, in English and Ukrainian: a request and its answer to the person asking, the notices,
digests and buttons admins decide with, and the audit log's notices to admins."""

ACCESS_TEXTS: dict[str, dict[str, str]] = {
    # --- access --------------------------------------------------------------------------------
    "access_requested": {
        "en": "Your request for access has been sent to the administrators. "
        "You will get a message when they decide.",
        "uk": "Ваш запит на доступ надіслано адміністраторам. "
        "Ви отримаєте повідомлення, коли вони ухвалять рішення.",
    },
    "access_pending": {
        "en": "Your access request is still waiting for an administrator.",
        "uk": "Ваш запит на доступ ще очікує на рішення адміністратора.",
    },
    "access_denied": {"en": "Access denied.", "uk": "Доступ заборонено."},
    "access_approved_user": {
        "en": "Your access has been approved. Send a photo to search the gallery; /help explains how.",
        "uk": "Ваш доступ схвалено. Надішліть фото, щоб шукати в галереї; /help пояснює, як це працює.",
    },
    "access_rejected_user": {
        "en": "Your access request was rejected.",
        "uk": "Ваш запит на доступ відхилено.",
    },
    "access_revoked_user": {
        "en": "Your access has been revoked.",
        "uk": "Ваш доступ скасовано.",
    },
    "admin_new_request": {
        "en": "Access request\nUser id: {id}\nName: {name}\nUsername: {username}",
        "uk": "Запит на доступ\nID: {id}\nІм'я: {name}\nІм'я користувача: {username}",
    },
    "admin_digest": {
        "en": "{n} more access requests since {since}:",
        "uk": "Ще запитів на доступ від {since}: {n}",
    },
    "admin_digest_line": {
        "en": "{id} · {name} · {username}",
        "uk": "{id} · {name} · {username}",
    },
    "admin_digest_more": {
        "en": "… and {n} more.",
        "uk": "… і ще {n}.",
    },
    "admin_digest_hint": {
        "en": "The buttons below decide for the users listed; /pending lists them all; "
        "/approve ID or /reject ID decides for any of them.",
        "uk": "Кнопки нижче ухвалюють рішення щодо перелічених користувачів; /pending показує "
        "всі запити; /approve ID або /reject ID ухвалює рішення щодо будь-якого з них.",
    },
    "admin_digest_decided": {
        "en": "{id}: {status} by {admin}.",
        "uk": "{id}: {status}, {admin}.",
    },
    "audit_alarm": {
        "en": "⚠ The audit log does not continue what facefind last witnessed: {problem}\n"
        "Someone with access to the database may have changed it. Run facefind audit verify.",
        "uk": "⚠ Журнал аудиту не продовжує те, що facefind бачив востаннє: {problem}\n"
        "Хтось із доступом до бази даних міг його змінити. Запустіть facefind audit verify.",
    },
    "audit_checkpoint": {
        "en": "Audit log check-point, {date}: {rows} rows, last row {row}, seal {seal}.\n"
        "Keep this message. `facefind audit verify --head {row}:{seal}` proves the log still "
        "holds this row unchanged, and everything before it.",
        "uk": "Контрольна точка журналу аудиту, {date}: рядків {rows}, останній рядок {row}, "
        "печатка {seal}.\nЗбережіть це повідомлення. `facefind audit verify --head {row}:{seal}` "
        "доводить, що журнал досі містить цей рядок незмінним, і все, що перед ним.",
    },
    "btn_approve": {"en": "✅ Approve", "uk": "✅ Схвалити"},
    "btn_reject": {"en": "❌ Reject", "uk": "❌ Відхилити"},
    "btn_approve_user": {"en": "✅ Approve {id} · {name}", "uk": "✅ Схвалити {id} · {name}"},
    "btn_reject_user": {"en": "❌ Reject {id}", "uk": "❌ Відхилити {id}"},
    "decided": {
        "en": "{request}\n\nDecision: {status} by {admin}.",
        "uk": "{request}\n\nРішення: {status}, {admin}.",
    },
    "status_approved": {"en": "approved", "uk": "схвалено"},
    "status_rejected": {"en": "rejected", "uk": "відхилено"},
    "status_revoked": {"en": "revoked", "uk": "скасовано"},
    "status_pending": {"en": "pending", "uk": "очікує"},
    "already_decided": {
        "en": "Already decided: {status} by {admin}.",
        "uk": "Рішення вже ухвалено: {status}, {admin}.",
    },
    "not_allowed": {
        "en": "You are not allowed to do that.",
        "uk": "Вам не дозволено це робити.",
    },
    "admin_only": {
        "en": "This command is for administrators.",
        "uk": "Ця команда лише для адміністраторів.",
    },
}
