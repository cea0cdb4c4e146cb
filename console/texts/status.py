"""The console's /status, in English and Ukrainian: the gallery, the bands, the queue, eval."""

STATUS_TEXTS: dict[str, dict[str, str]] = {
    "nav_status": {"en": "Status", "uk": "Стан"},
    "home_status": {
        "en": "The gallery's size and the bands in force, what waits, the workers, the latest "
        "accuracy check.",
        "uk": "Розмір галереї та чинні межі, що в черзі, обробники, остання перевірка точності.",
    },
    "status_title": {"en": "Service status", "uk": "Стан сервісу"},
    "status_gallery": {"en": "Gallery and bands", "uk": "Галерея та межі"},
    "status_model": {"en": "Model pack", "uk": "Набір моделей"},
    "status_identities": {"en": "Identities searched", "uk": "Осіб у пошуку"},
    "status_by_refs": {
        "en": "{n} with {refs} reference face(s)",
        "uk": "{n} з {refs} еталонними обличчями",
    },
    "status_by_refs_3": {"en": "{n} with 3 or more", "uk": "{n} з 3 і більше"},
    "status_strong": {"en": "Strong from similarity", "uk": "Сильний від схожості"},
    "status_possible": {"en": "Possible from similarity", "uk": "Можливий від схожості"},
    "status_source": {"en": "Bands", "uk": "Межі"},
    "bands_source_calibrated": {
        "en": "derived from the calibration for this gallery's size",
        "uk": "виведено з калібрування для розміру цієї галереї",
    },
    "bands_source_fixed": {"en": "fixed by the operator", "uk": "задано оператором"},
    "bands_source_uncalibrated": {
        "en": "fallback values (no calibration for this model pack)",
        "uk": "запасні значення (немає калібрування для цього набору)",
    },
    "status_targets": {
        "en": "Targets: a candidate for at most {possible} of people not enrolled, a strong "
        "one for at most {strong}",
        "uk": "Цілі: кандидат щонайбільше для {possible} людей поза галереєю, сильний — для "
        "{strong}",
    },
    "status_capacity": {
        "en": "At these targets the model serves about {n} identities.",
        "uk": "За цих цілей модель обслуговує близько {n} осіб.",
    },
    "status_over_capacity": {
        "en": "The gallery holds more identities than the model serves at these targets.",
        "uk": "У галереї більше осіб, ніж модель обслуговує за цих цілей.",
    },
    "status_waiting": {"en": "What waits", "uk": "Що в черзі"},
    "status_open": {
        "en": "Lookups waiting or being answered",
        "uk": "Пошуки в черзі або з відповіддю",
    },
    "status_queue": {"en": "Queue jobs waiting / running", "uk": "Завдання в черзі / виконуються"},
    "status_given_up": {"en": "Replies given up as undelivered", "uk": "Недоставлені відповіді"},
    "status_inbox": {"en": "Messages waiting to be handled", "uk": "Повідомлення, що очікують"},
    "status_requests": {"en": "Access requests", "uk": "Запити на доступ"},
    "status_workers": {"en": "Workers", "uk": "Обробники"},
    "status_no_workers": {
        "en": "No worker runs: lookups wait until `facefind run` or `facefind worker` starts.",
        "uk": "Жоден обробник не працює: пошуки чекають на `facefind run` або `facefind worker`.",
    },
    "col_worker": {"en": "Worker", "uk": "Обробник"},
    "col_host": {"en": "Host, process", "uk": "Машина, процес"},
    "col_heartbeat": {"en": "Last heartbeat (UTC)", "uk": "Останній сигнал (UTC)"},
    "status_eval": {
        "en": "The latest accuracy check (facefind eval)",
        "uk": "Остання перевірка точності (facefind eval)",
    },
    "status_no_eval": {
        "en": "No `facefind eval` run yet: its report and plots appear here after one.",
        "uk": "Ще не було `facefind eval`: його звіт і графіки з'являться тут.",
    },
    "status_eval_what": {
        "en": "{when} UTC · {folder} · model {model} · {identities} identities, {refs} reference(s) each",
        "uk": "{when} UTC · {folder} · модель {model} · осіб {identities}, еталонів {refs} на особу",
    },
    "eval_found": {
        "en": "found (right identity first, at least possible)",
        "uk": "знайдено (правильна особа перша, щонайменше можливий)",
    },
    "eval_strong": {
        "en": "strong (right identity first, strong)",
        "uk": "сильний (правильна особа перша, сильний)",
    },
    "eval_rank1": {
        "en": "rank-1 (nearest identity is the right one)",
        "uk": "ранг 1 (найближча особа правильна)",
    },
    "eval_wrong_candidate": {
        "en": "enrolled, shown someone else",
        "uk": "є в галереї, показано іншу особу",
    },
    "eval_false_candidate": {
        "en": "not enrolled, given a candidate",
        "uk": "немає в галереї, показано кандидата",
    },
}
