"""The console's frame, in English and Ukrainian: the menu, signing in and out, refusals."""

FRAME_TEXTS: dict[str, dict[str, str]] = {
    # --- the frame of every page ----------------------------------------------------------
    "app_name": {"en": "facefind console", "uk": "Консоль facefind"},
    "nav_home": {"en": "Home", "uk": "Головна"},
    "nav_lookups": {"en": "Lookups", "uk": "Пошуки"},
    "signed_in_as": {"en": "Signed in as {name}", "uk": "Ви увійшли як {name}"},
    "sign_out": {"en": "Sign out", "uk": "Вийти"},
    # --- home -----------------------------------------------------------------------------
    "home_title": {"en": "Console", "uk": "Консоль"},
    "home_intro": {
        "en": "Every page you open here is recorded in the audit log, as in the bot.",
        "uk": "Кожну сторінку, яку ви тут відкриваєте, записано в журнал аудиту, як і в боті.",
    },
    "home_lookups": {
        "en": "Past lookups: who looked up whom, when, and with what result.",
        "uk": "Минулі пошуки: хто кого шукав, коли і з яким результатом.",
    },
    # --- signing in -----------------------------------------------------------------------
    "login_title": {"en": "Sign in", "uk": "Вхід"},
    "login_prompt": {
        "en": "This link signs you in to the console once, within 5 minutes of being sent.",
        "uk": "Це посилання впускає до консолі один раз, протягом 5 хвилин після надсилання.",
    },
    "login_button": {"en": "Sign in", "uk": "Увійти"},
    "login_refused_title": {"en": "This link does not sign in", "uk": "Це посилання не впускає"},
    "login_refused_used": {
        "en": "This sign-in link was used already. Each link works once.",
        "uk": "Цим посиланням уже скористалися. Кожне посилання діє один раз.",
    },
    "login_refused_expired": {
        "en": "This sign-in link expired: a link works for 5 minutes.",
        "uk": "Термін дії посилання минув: посилання діє 5 хвилин.",
    },
    "login_refused_unknown": {
        "en": "This is not a sign-in link of this console.",
        "uk": "Це не посилання для входу до цієї консолі.",
    },
    "login_refused_not_admin": {
        "en": "The console is for administrators only.",
        "uk": "Консоль лише для адміністраторів.",
    },
    "login_how": {
        "en": "Send /console to the bot for a new link.",
        "uk": "Надішліть боту /console, щоб отримати нове посилання.",
    },
    "signed_out_title": {"en": "Signed out", "uk": "Ви вийшли"},
    "signed_out_text": {
        "en": "You are signed out of the console.",
        "uk": "Ви вийшли з консолі.",
    },
    "need_sign_in_title": {"en": "Sign in from the bot", "uk": "Увійдіть через бота"},
    "need_sign_in_text": {
        "en": "The console has no passwords: open it from the bot.",
        "uk": "Консоль не має паролів: відкрийте її з бота.",
    },
    "withdrawn_title": {"en": "No access", "uk": "Немає доступу"},
    "withdrawn_text": {
        "en": "Your administrator access was withdrawn; your console session has ended.",
        "uk": "Ваш доступ адміністратора скасовано; сеанс консолі завершено.",
    },
    "forbidden_title": {"en": "Refused", "uk": "Відмовлено"},
    "csrf_text": {
        "en": "This form was not sent from a console page. Reload the page and try again.",
        "uk": "Цю форму надіслано не зі сторінки консолі. Оновіть сторінку і спробуйте ще.",
    },
    "not_found_title": {"en": "Not found", "uk": "Не знайдено"},
    "not_found_text": {
        "en": "There is nothing at this address.",
        "uk": "За цією адресою нічого немає.",
    },
    "confirm": {"en": "I am sure", "uk": "Я впевнений(-а)"},
    "error_not_allowed": {"en": "Not allowed.", "uk": "Не дозволено."},
    "webapp_title": {"en": "Opening the console", "uk": "Відкриваємо консоль"},
    "webapp_wait": {"en": "Signing you in…", "uk": "Виконуємо вхід…"},
    "webapp_no_telegram": {
        "en": "Open this page from the bot's menu button in Telegram.",
        "uk": "Відкрийте цю сторінку кнопкою меню бота в Telegram.",
    },
    "webapp_refused": {
        "en": "Telegram's sign-in was refused: only administrators may open the console.",
        "uk": "Вхід через Telegram відхилено: консоль лише для адміністраторів.",
    },
    "webapp_invalid": {
        "en": "Telegram's sign-in could not be checked. Close and open the console again.",
        "uk": "Не вдалося перевірити вхід через Telegram. Закрийте й відкрийте консоль знову.",
    },
}
