"""What admins read about the web console and what it brought, in English and Ukrainian:
/console, its menu button, identities merged in the console."""

CONSOLE_TEXTS: dict[str, dict[str, str]] = {
    "cmd_console": {"en": "Open the web console", "uk": "Відкрити вебконсоль"},
    "console_link": {
        "en": "Your sign-in link to the console (it works once, within {minutes} minutes, for "
        "you only; do not forward it):\n{link}",
        "uk": "Ваше посилання для входу до консолі (діє один раз, протягом {minutes} хвилин, "
        "лише для вас; не пересилайте його):\n{link}",
    },
    "console_open_app": {"en": "Open the console here", "uk": "Відкрити консоль тут"},
    "console_menu_button": {"en": "Console", "uk": "Консоль"},
    "console_admins_only": {
        "en": "The web console is for administrators only.",
        "uk": "Вебконсоль лише для адміністраторів.",
    },
    "console_off": {
        "en": "This deployment serves no web console (FACEFIND_WEB_LISTEN=off). Past lookups, "
        "users and identities are in the bot's commands: /help.",
        "uk": "Це розгортання не має вебконсолі (FACEFIND_WEB_LISTEN=off). Минулі пошуки, "
        "користувачі та особи доступні командами бота: /help.",
    },
    "restore_merged": {
        "en": "Identity #{id} was merged into another identity: its faces are that identity's "
        "now, so there is nothing to restore.",
        "uk": "Особу №{id} об'єднано з іншою особою: її обличчя тепер належать тій особі, тож "
        "відновлювати нічого.",
    },
}
