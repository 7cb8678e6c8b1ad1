# gridwork's message catalogue, English. Its keys are those of zh.ftl, one for one; every key
# must exist in both languages (the gridwork-i18n tests check it).

## The terminal device: general

cli-error = error: { $message }
cli-none = (none)
cli-yes = yes
cli-never = never
cli-under-way = {" "}(under way)
cli-not-enrolled = (not enrolled)
cli-no-building-code = --building: no building with the address code { $code } on this device (a code is 19 digits; sync first, or check that it is in your scope)
cli-no-household = --household: no household { $value } on this device (give ADDRESS-CODE/UNIT, e.g. 3301050120010010001/2-301, or an id)
cli-no-area-code = --area: no area with the code { $code } on this device (sync first, or check that it is in your scope)
cli-patrol-kind = --kind: a patrol reports a hazard or a finding

## Table headers

col-id = id
col-level = level
col-code = code
col-name = name
col-since = since
col-policy = policy
col-address-code = address code
col-address = address
col-kind = kind
col-unit = unit
col-phone = phone
col-archived = archived
col-id-number = ID number
col-key-groups = key groups
col-registration = registration
col-check-in = check-in
col-check-out = check-out
col-expected-end = expected end
col-household = household
col-unregistered-people = unregistered people
col-nobody-registered = nobody registered
col-resident = resident
col-last-visit = last visit
col-days-late = days late
col-position = position
col-case = case
col-title = title
col-state = state
col-colour = colour
col-due = due
col-record = record
col-field = field
col-kept = kept
col-yours-lost = yours (lost)
col-event = event
col-why-it-was-not-applied = why it was not applied
col-change = change
col-why-it-was-refused = why it was refused
col-text = text

## Case states

state-received = received
state-accepted = accepted
state-assigned = assigned
state-handled = handled
state-completion_reviewed = completion reviewed
state-called_back = called back
state-closed = closed
state-raised = raised
state-dispatched = dispatched
state-acknowledged = acknowledged
state-en_route = en route
state-on_scene = on scene
state-resolved = resolved
state-reviewed = reviewed
state-reported = reported
state-fixed = fixed
state-logged = logged
state-mediating = in mediation
state-settled = settled
state-not_settled = not settled
state-open = open

## Lines of defence

level-micro_grid_leader = micro-grid leader
level-gridworker = gridworker
level-village_secretary = village secretary
level-subdistrict_mediation_centre = subdistrict mediation centre

## Kinds

kind-hazard = hazard
kind-dispute = dispute
kind-alarm = fire alarm
kind-hotline = 12345 hotline
kind-patrol_finding = patrol finding
kind-incident = incident
area-district = district
area-subdistrict = subdistrict
area-grid_layer = grid layer
area-community = community
area-grid = grid
area-micro_grid = micro-grid
building-residential = residential
building-rental = rental
building-mixed_use = mixed use
building-factory = factory
building-shop = shop
building-public = public
household-owner_occupied = owner-occupied
household-rental = rental
household-group_rental = group rental
household-vacant = vacant
keygroup-elderly_living_alone = elderly living alone
keygroup-left_behind_child = left-behind child
keygroup-disabled = disabled
severity-low = low
severity-medium = medium
severity-high = high
severity-critical = critical
colour-green = green
colour-yellow = yellow
colour-red = red

## Patrols, key groups

patrol-started = patrol started: { $id }
patrol-visited = checked in at building { $building } at { $at }
patrol-reported = reported: { $id } { $title }
patrol-ended = patrol ended: { $id }
patrol-summary = patrol { $id } from { $from }{ $until }
patrol-until = {" "}to { $at }
patrol-buildings = buildings visited: { $buildings } ({ $visits } check-ins)
patrol-findings = findings: { $findings }
keygroup-visit-recorded = visit recorded: { $name }

## Validation: fields

field-resident-id_number = ID number
field-resident-name = name
field-resident-phone = phone
field-household-phone = phone
field-household-unit = unit
field-station-phone = phone
field-station-name = name
field-area-name = area name
field-area-code = area code
field-building-address_code = address code
field-building-address = address
field-building-grid_id = grid
field-case-title = title
field-case-category = category
field-case-position = position
field-position = position
field-registration-expected_end = expected end
field-registration-check_out = check-out date

## Validation: reasons

why-must-not-be-empty = must not be empty
why-resident-id-number-is-empty = resident ID number is empty
why-resident-id-number-must-be-18-characters-long = resident ID number must be 18 characters long
why-resident-id-number-must-be-17-digits-followed-by-a-digit-or-x = resident ID number must be 17 digits followed by a digit or X
why-resident-id-number-cannot-start-with-0 = resident ID number cannot start with 0
why-birth-date-in-resident-id-number-is-not-a-real-date = birth date in resident ID number is not a real date
why-birth-date-in-resident-id-number-is-before-1900 = birth date in resident ID number is before 1900
why-birth-date-in-resident-id-number-is-in-the-future = birth date in resident ID number is in the future
why-resident-id-number-check-digit-does-not-match-gb-11643 = resident ID number check digit does not match (GB 11643)
why-phone-number-is-empty = phone number is empty
why-only-chinese-86-phone-numbers-are-accepted = only Chinese (+86) phone numbers are accepted
why-phone-number-may-contain-only-digits-spaces-and-a-86-prefix = phone number may contain only digits, spaces, '-' and a +86 prefix
why-phone-number-must-be-a-mobile-starting-with-1-or-a-landline-starting-with-0 = phone number must be a mobile starting with 1 or a landline starting with 0
why-mobile-number-must-have-11-digits = mobile number must have 11 digits
why-mobile-number-must-start-with-13-to-19 = mobile number must start with 13 to 19
why-local-number-must-have-7-or-8-digits-after-the-area-code = local number must have 7 or 8 digits after the area code
why-local-number-cannot-start-with-0-or-1 = local number cannot start with 0 or 1
why-extension-must-be-1-to-6-digits-after-or = extension must be 1 to 6 digits after '-' or 转
why-latitude-and-longitude-must-be-finite-numbers = latitude and longitude must be finite numbers
why-latitude-must-be-between-90-and-90-degrees = latitude must be between -90 and 90 degrees
why-longitude-must-be-between-180-and-180-degrees = longitude must be between -180 and 180 degrees
why-must-name-a-grid = must name a grid

## The weekly brief

brief-title = Weekly brief
brief-as-at = as at
brief-week-not-over = the week is not over
brief-cases = Cases
brief-kind = Kind
brief-opened = Opened
brief-closed = Closed
brief-open-at-week-end = Open at week end
brief-total = Total
brief-supervision = Supervision
brief-red = Red
brief-yellow = Yellow
brief-green = Green
brief-grid = Grid
brief-case = Case
brief-step = Step
brief-due = Due
brief-overdue-by = Overdue by
brief-disputes = Disputes
brief-settled = Settled
brief-settled-by = Settled by
brief-count = Count
brief-inside-grid = Settled inside the grid
brief-inside-village = Inside the village
brief-overnight = Small ones settled overnight
brief-within-month = Big ones within the month
brief-policy = Response policy
brief-policy-default = the built-in default
brief-policy-since = since
brief-in-force = In force
brief-changed-this-week = Changed this week
brief-changed-note = applies to events opened from then on; earlier ones keep their policy
brief-by-policy = Alarms and incidents this week by policy
brief-fire-alarms = Fire alarms
brief-alarms = Alarms
brief-incidents = Incidents
brief-dispatched-incidents = Incidents
brief-no-arrival = No arrival recorded
brief-median-arrival = Median arrival
brief-worst = Worst
brief-within-minutes = Within { $minutes } minutes
brief-within-target = Within their policy's target
brief-arrivals = arrivals
brief-minutes = min
brief-registration = Tenant registration
brief-per-person = Per person
brief-per-room = Per room
brief-people = people
brief-rooms = rooms
brief-to-register = To register
brief-in = in
brief-overdue-stays = Overdue stays
brief-hazards = Hazards
brief-found = Found
brief-fixed = Fixed and rechecked
brief-open = Open
brief-key-groups = Key groups
brief-residents = Residents
brief-visited = Visited this week
brief-overdue = Overdue
brief-patrol-visits = Patrol visits
brief-legacy-visits = Legacy visits of patrols from before chaining (unchained, shown apart)
brief-ranking = Grid ranking
brief-rank = Rank
brief-red-cases = Red
brief-registered-people = Registered people
brief-hazards-fixed = Hazards fixed
brief-visits-overdue = Visits overdue
brief-cases-opened = Cases opened
brief-patrol = Patrol visits
brief-ranked-by = Ranked by
brief-rank-rule = fewer red cases → higher registration per person → more hazards fixed → fewer overdue visits
brief-kind-hazard = Hazard
brief-kind-dispute = Dispute
brief-kind-alarm = Fire alarm
brief-kind-hotline = Hotline
brief-kind-patrol_finding = Patrol finding
brief-kind-incident = Incident

## The operator's command line (gridwork-server)

server-error = error: { $message }
server-audit-verified = the audit log is intact: { $entries } entries, head { $head }
server-audit-when = when
server-audit-kind = kind
server-audit-actor = actor
server-audit-record = record
server-audit-why = why
server-audit-none = (no audit entries)
server-audit-more = more: see the page before with --before { $seq }

## Terminal device: enrollment, sync and this device

cli-enrolled = enrolled as { $user } ({ $role }); device { $device }
cli-synced = pushed { $pushed }, rejected { $rejected }, pulled { $pulled }, new conflicts { $conflicts }, { $bytes } bytes in { $ms } ms

## Terminal device: photos

cli-photo-taken = photo recorded on the case and queued for upload: { $hash } ({ $size } bytes)
cli-record-photo-added = photo added to the record and queued for upload: { $hash } ({ $size } bytes)
cli-record-photo-removed = photo { $hash } removed from the record
cli-photo-needs-file = the `photo` step needs --photo FILE (JPEG or PNG)
cli-bad-hash = a photo's hash is 64 lowercase hexadecimal digits (SHA-256)
cli-attachment-saved = wrote { $hash } to { $file } ({ $size } bytes, hash checked)
cli-attachment-not-yet = the server has no { $hash } yet (the phone that took it has not uploaded it); try again later
cli-attachment-here = on this phone
cli-attachment-not-here = not downloaded
cli-uploaded = photo uploads: { $completed } completed, { $bytes } bytes sent, { $queued } still queued
cli-upload-stopped = {" "}(stopped: { $reason })
cli-bad-upload-policy = the upload policy is any (any network), unmetered (Wi-Fi only) or paused
cli-upload-policy-set = photo upload policy: { $policy }
col-hash = hash
col-role = role
col-size = bytes
col-sent = sent
upload-state-queued = queued
upload-state-uploading = uploading
upload-state-uploaded = uploaded
upload-state-paused = paused
upload-state-waiting_for_unmetered = waiting for Wi-Fi
upload-state-quota_exceeded = daily upload quota used up
upload-state-too_large = too large for the server
upload-state-hash_mismatch = hash mismatch, to be sent again
blob-role-picture = picture
blob-role-thumbnail = thumbnail
upload-policy-any_network = any network
upload-policy-unmetered_only = Wi-Fi only
upload-policy-paused = paused
cli-device-status =
    device { $device }
    server { $server }
    unsynced changes: { $unsynced }
    refused changes: { $refused } (see `gridwork refused list`)
cli-retention = checked-out tenants leave this device { $days } days after check-out
cli-retention-set = checked-out tenants now leave this device { $days } days after check-out ({ $purged } records purged now)
cli-new-key = a new key is in { $file }: keep it safe; without it the store cannot be read
cli-exported-unsynced = { $changes } unsynced change(s) written to { $file }
cli-recovered = recovered: { $kept } unsynced change(s) kept, { $unreadable } unreadable
cli-recovered-export = exported to { $file }
cli-recovered-kept-file = damaged file kept at { $file }
cli-recovered-sync = run `gridwork sync` to fetch the rest from the server and send the kept changes
cli-recovered-enroll = the device's identity was lost: enroll again; the kept changes are listed as rejected so they can be entered again

## Terminal device: cases, steps and timelines

cli-case-live = LIVE{" "}
cli-case-due = { " " }(due { $due })
cli-hotline-taken-in = 12345 case taken in: { $id }
cli-incident-raised = incident raised: { $id }
cli-hazard-reported = hazard reported: { $id }
cli-dispute-logged = dispute logged: { $id }
cli-alarm-raised = alarm raised and dispatched: { $id }
cli-arrived-within = arrived on scene after { $minutes } min: within the { $target }-minute target
cli-arrived-beyond = arrived on scene after { $minutes } min: beyond the { $target }-minute target
cli-arrival-recorded = arrival recorded
cli-refused-discarded = refused change discarded; the record keeps the server's values
cli-refused-redone = made again as a new change; sync to send it
cli-conflict-reapplied = your value is written again; sync to send it
cli-conflict-dismissed = conflict dismissed
cli-timeline-me = me
cli-timeline-user = user { $id }
cli-timeline-by = by { $who }
cli-timeline-due = due { $due }
cli-timeline-detail = { $what }: { $value }
cli-timeline-not-applied = ⚠ not applied: { $reason }
detail-agreement = agreement
detail-assignee = assignee
detail-level = level
detail-passed = passed
detail-photo = photo
detail-position = position
detail-reason = reason
detail-satisfied = satisfied
detail-station = station
detail-text = text

## Terminal device: buildings, households, residents and tenants

cli-building-updated = building { $address } updated
cli-household-added = household { $unit } added: { $id }
cli-household-updated = household { $unit } updated
cli-household-archived = household { $unit } archived (moved out)
cli-resident-added = resident { $name } added: { $id }
cli-resident-updated = resident { $name } updated
cli-resident-archived = resident { $name } archived
cli-checked-in = checked in from { $from }: registration { $id }
cli-checked-out = checked out on { $on }
cli-policy-set =
    response policy set from now on: { $policy }
    alarms and incidents opened before keep theirs; sync to send it

## Operator command line: accounts, import and areas

admin-no-user = no user { $user }
admin-user-unknown = --user: no user { $name }
admin-user-ambiguous = --user: { $count } users are named { $name }; give the id
admin-scope-replaced = scope of { $user } replaced
admin-no-device = no device { $device }
admin-revoked = revoked { $device }
admin-device-active = active
admin-device-revoked = revoked
admin-console-password-set = console password of { $user } set; sign in at /console
sample-written = { $dir }: { $areas } areas, { $stations } stations, { $buildings } buildings, { $households } households, { $residents } residents, { $users } users
blobs-gc-done = Photo sweep done: { $blobs } stored, { $deleted } deleted ({ $mib } MiB) that no case step references and older than { $days } days, { $uploads } partial uploads idle over 24 hours deleted
import-stage-reading = reading what is stored
import-stage-checking = checking { $kind }
import-stage-writing = writing { $kind }
import-no-file = no file to import; name the files { $names }
import-dry-run = dry run: nothing written
import-counts = { $kind }: created { $created }, updated { $updated }, unchanged { $unchanged }, refused { $refused }
import-refused-header = file	row	field	reason
import-refused = { $rows } rows refused; correct them and import the files again
area-refused = refused: { $message }
area-no-code = no area has the code { $code }
area-exists = an area with the code { $code } exists already
area-parent-of-district = --parent: a district has no parent
area-parent-needed = --parent: give the code of the area above
area-same-name = { $code } already has that name
area-renamed = renamed { $code } to { $name }
area-not-empty = { $code } still has { $areas } areas, { $buildings } buildings, { $stations } stations and { $users } users' scopes in it: move them first (area move-buildings, admin set-scope)
area-retired = retired { $code } { $name }
area-moved = moved { $moved } buildings into { $code } { $name } ({ $already } already there); { $households } households and { $residents } residents follow, and phones follow on their next sync
area-tree-header = area	level	buildings	households	residents	id

## The demo (gridwork demo)

demo-header = gridwork demo · seed { $seed } · data in { $dir }
demo-finished = finished in { $s } s
demo-listening = sync server listening on { $url } (SQLite in { $db })
demo-stage-seeding = seeding the subdistrict
demo-seeded = seeded { $place }: { $communities } communities ({ $names }), { $grids } grids, { $buildings } buildings, { $households } households, { $residents } residents, { $stations } micro fire stations
demo-stage-uploading = uploading to the server
demo-uploaded = uploaded { $ops } operations ({ $kb } KB)
demo-stage-enrolling = enrolling and bootstrapping phones
demo-enrolled = 5 phones enrolled (a dispatcher, 2 gridworkers, a building head, a fire crew)
demo-stage-friday = playing Friday
demo-played = played Friday 08:30–18:00 (simulated clock)
demo-refused-check-in = 赵磊's phone refused a check-in: { $error }
demo-refused-household = 赵磊's phone refused a household: { $error }
demo-refused-escalation = 李强's phone refused an escalation: { $error }
demo-server-refused = the server refused { $name }'s household on unit 9-901 ({ $change }): { $reason }; the phone put the record back to the server's and { $name } discarded the change
demo-policy = { $who } set { $policy } on Wednesday 12:00; events opened before keep 1-3-10
demo-convergence = == Convergence: every phone holds exactly its scope, all of it
demo-digest = digest { $digest }
demo-unsynced = unsynced { $n }
demo-same-as-fresh = ✓ = a fresh phone with the same scope
demo-different-from-fresh = ✗ DIFFERENT from a fresh phone with the same scope
demo-converged = converged ✓
demo-not-converged = NOT converged ✗
demo-offline-queued = ({ $n } changes were made offline and queued until the phones came back online)
demo-conflict = == The conflict
demo-conflict-field = { $address } · field `{ $field }` edited on two phones offline
demo-conflict-won = { $lost_by } wrote { $lost } · { $won_by } wrote { $won } later → { $won_by }'s value won everywhere
demo-conflict-reapplied = { $lost_by }'s value was not dropped: it waited in her conflict list; she confirmed it by phone and re-applied it
demo-conflict-final = final value on every phone: { $value }
demo-conflict-none = (none detected)
demo-rules = == The field rules at work
demo-rules-policy = response policy: { $policy }
demo-alarm = == The fire alarm
demo-alarm-dispatched = { $title } at { $address } → dispatched to { $station }
demo-alarm-live = reached the crew's phone through the live long poll in { $ms } ms
demo-alarm-within = the crew acknowledged, set off and arrived on its own phone: on scene after { $minutes } min, within the { $target }-minute target ✓
demo-alarm-beyond = the crew acknowledged, set off and arrived on its own phone: on scene after { $minutes } min, beyond the { $target }-minute target ✗
demo-step-by = { $step } by { $who }
demo-alarm-timeline = timeline: { $steps }
demo-open-cases = == Open cases on Friday at 18:00, most urgent first (live alarms first; 红 overdue · 黄 close · 绿 on track)
demo-due = (due { $due })
demo-brief = == The weekly brief, made on Tuesday for the meeting's review of Monday–Sunday

## Operator command line: audit and service accounts

server-audit-broken = the audit log is broken at entry { $seq }: { $problem }
server-patrol-flagged = flagged
server-patrols-summary = patrols: { $intact } verify, { $broken } flagged, { $unchained } made before chains
server-patrols-flagged = { $broken } patrol(s) flagged
server-no-service-account = no service account { $account }

## Command-line usage (usage errors and --help headings of both command lines)

usage-error = error: { $message }
usage-heading = Usage:
usage-commands = Commands
usage-arguments = Arguments
usage-options = Options
usage-help-flag = Print help
usage-version-flag = Print version
usage-more = For more information, try '--help'.
usage-unknown-argument = unexpected argument '{ $arg }'
usage-unknown-subcommand = unrecognized subcommand '{ $name }'
usage-value-required = a value is required for '{ $arg }' but none was supplied
usage-invalid-value = invalid value '{ $value }' for '{ $arg }'
usage-possible-values = { " " }(possible values: { $values })
usage-because = : { $reason }
usage-missing-required = the following required arguments were not provided: { $args }
usage-missing-subcommand = '{ $command }' requires a subcommand: { $subcommands }
usage-repeated = the argument '{ $arg }' cannot be used more than once
usage-conflict = the argument '{ $arg }' cannot be used with '{ $other }'
usage-conflict-others = the argument '{ $arg }' cannot be used with one or more of the other arguments given
usage-too-many-values = unexpected value '{ $value }' for '{ $arg }'; no more were expected
usage-wrong-number-of-values = '{ $arg }' needs { $expected } values but { $actual } were given
usage-no-equals = '{ $arg }' takes its value after an equal sign ({ $arg }=VALUE)
usage-invalid-utf8 = an argument is not valid UTF-8 text
usage-unknown = the command line is wrong
usage-did-you-mean = tip: a similar { $what } exists: { $list }
usage-a-subcommand = subcommand
usage-an-argument = argument
usage-a-value = value
usage-tip = tip: { $tip }

## Terminal device: usage and arguments

cli-give-building = give an address code or an id
cli-give-household = give ADDRESS-CODE/UNIT or an id
cli-give-area = give an area code or an id
cli-expected-one-of = unknown value; expected one of: { $choices }
cli-expected-yes-no = expected yes (满意) or no (不满意)
cli-expected-lang = expected zh or en
cli-give-area-or-building = give --area or --building
cli-step-needs = `{ $step }` needs { $flag }
cli-call-back-no-text = `call-back` records the answer with --satisfied yes|no, not --text; add what the resident said as a `note`
cli-unknown-step = unknown step "{ $step }"; see `gridwork case act --help`
cli-unknown-preset = unknown preset "{ $preset }"; expected 1-3-10 or wulin
cli-minutes-positive = minutes must be a positive number
cli-enroll-first = this device is not enrolled: run `gridwork device enroll --server URL --code CODE`
cli-server-url = --server must be an http:// or https:// URL, not "{ $value }"
cli-file-error = { $flag }: cannot use the file { $file }: { $reason }

## Errors (core, storage and sync, by stable code)

err-invalid-input = invalid input: { $field }: { $reason }
err-not-allowed-now = not allowed now: { $message }
err-not-allowed = not allowed: { $message }
err-not-found = no { $kind } with id { $id }
err-newer-schema = the database has schema version { $found }, newer than the { $supported } this version of gridwork understands; update the app
err-store-damaged = the store is damaged ({ $detail }): run `gridwork device recover` to keep its unsynced changes
err-wrong-key = wrong key or not a gridwork database
err-key-required = the store is encrypted (or is not a gridwork database): give its key with --key-file
err-not-encrypted = the store is not encrypted: open it without a key
err-clock = clock error ({ $detail })
err-decode = stored data could not be decoded ({ $detail })
err-storage = storage error ({ $detail })
err-attachment = photo file error ({ $detail })
err-file = a file operation failed: { $action }: { $reason }
err-io = reading or writing failed: { $reason }
err-not-enrolled = this device is not enrolled: enroll it with a one-time code first
err-unreachable = the server could not be reached ({ $detail }): try again later
err-unauthorized = the server refused this device's credentials ({ $detail }): enroll again
err-server = the server refused the request: { $status } { $code } ({ $detail })
err-bad-answer = the server's answer could not be read ({ $detail })
err-tls = the secure connection to the server failed ({ $detail }): check the server's certificate or --ca-cert
err-rate-limited = the server asks to wait { $seconds } s before trying again ({ $detail })
err-step-not-a-step = cannot { $step }: a { $kind } has no such step (this one is { $state })
err-step-already-done = cannot { $step }: the { $kind } is already { $state }
err-step-wrong-state = cannot { $step }: the { $kind } is { $state }
err-step-not-upward = cannot escalate the { $kind } from the { $from } to the { $to }: escalation must go strictly up
err-step-skips-a-line = cannot escalate the { $kind } from the { $from } to the { $to }: disputes climb the lines of defence in order, the { $next } next
err-step-wrong-level = cannot { $step } at the { $level }: the { $kind } is { $state }
err-step-empty-text = cannot { $step }: the { $field } must not be empty (the { $kind } is { $state })
io-not-found = no such file
io-permission-denied = permission denied
io-already-exists = the file already exists
io-is-a-directory = it is a folder
io-invalid-data = its content is not valid text

## Case steps

step-accept = accept
step-review_assign = review and assign
step-handle = handle
step-completion_review = review the completion of
step-send_back = send back
step-call_back = call back
step-close = close
step-dispatch = dispatch
step-acknowledge = acknowledge
step-en_route = set off
step-arrive = arrive
step-resolve = resolve
step-review = review
step-assign = assign
step-fix = fix
step-recheck = recheck
step-mediate = mediate
step-escalate = escalate
step-settle = settle
step-not_settled = record as not settled
step-note = add a note to
step-photo = add a photo to

## Terminal device: detail views

cli-area-detail =
    { $name } ({ $level } { $code })
    id          { $id }
    parent      { $parent }
    response    { $policy }
cli-resident-detail =
    { $name }
    id          { $id }
    household   { $household }
    ID number   { $id_number }
    phone       { $phone }
    key groups  { $groups }
cli-resident-archived-mark = archived
cli-policy-summary = { $name } (receive { $receive } · respond { $respond } · on scene { $on_scene }{ $back } min; fire crew on scene { $fire } min)
cli-policy-report-back = { " " }· report back { $minutes }

## Operator CLI: configuration, scope and storage errors

server-store-one-of = give exactly one of --db PATH (SQLite) and --database URL (PostgreSQL)
server-not-seconds = not a number of seconds
server-timeout-range = a timeout must be more than 0 and at most 86400 seconds
server-per-minute = a per-minute limit must be a number ≥ 0
server-name-empty = --name must not be empty
server-runtime = cannot start the runtime: { $reason }
server-file-error = { $file }: { $reason }
server-config-read = cannot read the configuration file { $path }: { $reason }
server-config-toml = the configuration file { $path } is not valid TOML: { $reason }
server-config-unknown-key = `{ $key }` in the configuration file is not a flag of `serve`; known: { $known }
server-config-bad-value = `{ $key }` in the configuration file must be a string, number, true/false or a list of those
server-scope-no-entry = --scope: entry { $entry } names no area, building or station the server holds (give an area code, an address code, a station name or an id; import the areas first)
server-scope-areas-only = --scope: the scope of a { $role } names areas (area codes) only
server-scope-buildings-only = --scope: the scope of a { $role } names buildings (address codes) only
server-scope-stations-only = --scope: the scope of a { $role } names micro fire stations only
server-console-role = only a dispatcher or an admin signs in to the console; this user is a { $role }
server-db-error = database error ({ $detail })
server-db-bad-url = the database URL is not valid ({ $detail })
server-db-unreachable = cannot reach the PostgreSQL database { $target } ({ $reason })
server-db-newer = the database was written by a newer server (schema { $found }, this server knows { $supported }); update the server
server-db-corrupt = stored data is damaged ({ $detail })
server-db-task = a storage task failed ({ $detail })
area-to-not-grid = --to: { $code } is a { $level }, not a grid
area-micro-not-of-grid = --micro-grid: not a micro-grid of the grid given by --to
area-no-building-code = --building: no building has the address code { $code }
area-prefix-digits = --prefix: an address code prefix is digits
area-no-building-chosen = no building chosen: give --building CODE or --prefix CODE
record-record = record
record-conflict = conflict
record-refused-change = refused change
record-area = area
record-building = building
record-station = station
record-household = household
record-resident = resident
record-registration = registration
record-case = case
record-patrol = patrol
record-patrol_visit = patrol check-in
server-password-short = a console password needs at least { $min } characters
server-password-control = a console password may not contain control characters
server-audit-before-1970 = a date before 1970
server-audit-time = expected ms since the epoch, a date (2026-12-01) or an RFC 3339 time
server-audit-head-missing = the audit log does not contain the head { $head } noted earlier: entries were cut from its end

## Import: reasons of refused rows (the importer's fixed reasons)

why-must-be-a-number-in-degrees = must be a number in degrees
why-a-district-has-no-parent-area = a district has no parent area
why-must-name-the-code-of-the-area-above = must name the code of the area above
why-no-area-has-this-code = no area has this code
why-no-area-has-this-code-the-area-above-must-come-first-or-be-stored = no area has this code (the area above must come first, or be stored)
why-no-micro-fire-station-has-this-name = no micro fire station has this name
why-give-both-latitude-and-longitude-or-neither = give both latitude and longitude, or neither
why-no-building-has-this-address-code = no building has this address code
why-this-micro-grid-is-not-in-the-building-s-grid = this micro-grid is not in the building's grid
why-no-household-at-this-unit-of-the-building-import-it-in-first = no household at this unit of the building (import it in 房屋 first)
why-an-entry-names-no-area-code-address-code-or-station = an entry names no area code, address code or station
why-no-grid-has-the-code-the-address-code-starts-with-give-the-grid-s-code-in-this-column = no grid has the code the address code starts with: give the grid's code in this column
why-typed-as-a-number-which-the-spreadsheet-rounded-format-the-column-as-text-and-type-it-again = typed as a number, which the spreadsheet rounded: format the column as text (设置单元格格式 → 文本) and type it again
cli-registration-rate = { $name }: per person { $people }% ({ $registered }/{ $living }) · per room { $rooms }% ({ $registered_rooms }/{ $occupied })
cli-registration-whole-area = area
cli-building-added = building { $address } added: { $id }
cli-station-added = micro fire station { $name } added: { $id }
cli-available-steps = steps you can take now: { $steps }
server-cannot-listen = cannot listen on { $addr }: { $reason }
server-tls-certificate = cannot read the certificate file ({ $detail })
server-tls-no-certificate = the certificate file holds no PEM certificate
server-tls-key = cannot read the private key file (PEM, PKCS#8, PKCS#1 or SEC1) ({ $detail })
server-tls-rustls = the certificate and key do not make a TLS configuration ({ $detail })

## Permission rules' reasons (the same the server gives a refused change)

deny-outside = this { $kind } is outside { $whose }
deny-role-kind = a { $role } may not change a { $kind }
deny-no-delete = a { $role } may not delete records (archive them instead)
deny-whose-your-grid-s = your grid(s)
deny-whose-your-building-s = your building(s)
deny-whose-your-subdistrict = your subdistrict
deny-whose-your-areas = your areas
deny-role-gridworker = gridworker
deny-role-building-head = building head
deny-role-fire-crew = fire crew
deny-role-dispatcher = dispatcher
deny-role-mediator = mediator
deny-role-admin = admin
deny-areas-are-managed-by-an-admin = areas are managed by an admin
deny-a-building-head-may-report-hazards-not-other-cases = a building head may report hazards, not other cases
deny-a-fire-crew-only-adds-steps-to-the-alarms-dispatched-to-its-station = a fire crew only adds steps to the alarms dispatched to its station
deny-a-mediator-only-adds-steps-to-the-disputes-they-work = a mediator only adds steps to the disputes they work
deny-a-building-head-may-add-notes-and-photos-but-not-change-a-case-s-status = a building head may add notes and photos but not change a case's status
deny-this-case-is-not-an-alarm-dispatched-to-your-station = this case is not an alarm dispatched to your station
deny-this-case-is-not-a-dispute-escalated-to-your-line-of-defence-in-your-area = this case is not a dispute escalated to your line of defence in your area
deny-a-building-head-may-register-only-residents-of-its-own-building-s-households = a building head may register only residents of its own building's households
