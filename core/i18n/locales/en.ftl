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
field-household-kind = kind
field-household-archived = archived
field-household-building_id = building
field-resident-household_id = room
field-resident-key_groups = key groups
field-resident-archived = archived
field-resident-last_visit_ms = last visit
field-building-kind = kind
field-building-head_user_id = head
field-building-station_id = station
field-building-micro_grid_id = micro-grid
field-building-position = position
field-registration-resident_id = tenant
field-registration-household_id = room
field-registration-check_in = check-in date
field-area-parent_id = parent area
field-area-level = level
field-area-response_policies = response policies
field-station-position = position
field-station-area_id = area
field-photo = photo
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
cli-out-file-failed = --out { $file }: { $reason }
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
    store: { $encryption }
cli-store-encrypted = encrypted with SQLCipher { $version }, every page checked with { $mac }
cli-store-not-encrypted = not encrypted (the store file can be read as it is)
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
import-why-server-refused = the server refused the row: { $reason }
import-why-unknown-value = unknown value; use one of { $choices }
import-why-same-record = the same record is already on row { $row } of { $source }
import-why-no-column = the file has no column { $zh } ({ $en }); every row is left out
import-why-stored-area-level = the stored area with this code is a { $level }
import-why-area-level = the area with this code is a { $level }, not a { $wanted }
import-why-no-area-of-level = no { $level } has this code
import-why-stored-user-role = a stored user of this name is a { $role }
import-why-scope-kind = the scope of a { $role } names { $what } only
import-scope-buildings = buildings (address codes)
import-scope-stations = micro fire stations
import-scope-areas = areas (area codes)
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
demo-failed = the demo failed: { $detail }
demo-fail-seed = the demo failed: the generated subdistrict is incomplete
demo-fail-enrolled = the demo failed: not all five phones were enrolled
demo-fail-check-in-accepted = the demo failed: a check-in without an ID number was accepted
demo-fail-household-accepted = the demo failed: a second household on a taken unit was accepted
demo-fail-escalation-accepted = the demo failed: an escalation skipping a line was accepted
demo-fail-arrival = the demo failed: the arrival was not recorded
demo-fail-not-refused = the demo failed: the server did not refuse the second household on one unit
demo-fail-refused-stayed = the demo failed: a household the server refused stayed on the phone
soak-bad-tag-or-seed = --tag is one digit 1-9 and --seed is below 1000
soak-no-buildings = no buildings in area { $area } on this device: sync first
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
usage-not-a-uuid = the value of '{ $arg }' is no valid id (a UUID, like 01890000-0000-7000-8000-000000000000)
usage-not-an-integer = not a whole number
usage-not-a-number = not a number

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
invalid-value = { $field }: { $reason }
refused-change-edit = edit { $kind }: { $fields }
refused-change-delete = delete { $kind }
refused-change-step = case step: { $step }
refusal-forbidden = not allowed for your role or area: { $reason }
refusal-forbidden-other = not allowed for your role or area
refusal-invalid = a value was refused: { $reason }
refusal-invalid-other = a value was refused: the record is incomplete or malformed
refusal-wrong-device = this change was not made on this phone: { $reason }
refusal-clock-ahead = this phone's clock was wrong when the change was made; it is sent again with the right time ({ $reason })
refusal-malformed = the server could not take this change: { $reason }
refusal-other = the server refused this change ({ $code })
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
err-server = the server answered { $status } { $code }: { $detail }
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
io-not-a-directory = a part of the path is not a folder
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
why-the-expected-end-of-the-stay-is-before-the-check-in-day = the expected end of the stay is before the check-in day
why-the-tenant-has-already-checked-out = the tenant has already checked out
why-the-check-out-day-is-before-the-check-in-day = the check-out day is before the check-in day
why-another-household-of-this-building-already-has-this-unit-add-the-people-to-it-instead = another household of this building already has this unit: add the people to it instead
why-no-resident-with-this-id-is-known-record-the-tenant-in-the-room-first = no resident with this id is known: record the tenant in the room first
why-the-resident-has-moved-out-archived = the resident has moved out (archived)
why-a-tenant-is-checked-in-with-a-valid-resident-id-number-record-it-on-the-resident-first = a tenant is checked in with a valid resident ID number (登记须核验身份证): record it on the resident first
why-a-tenant-is-checked-in-to-the-room-they-live-in-record-the-resident-in-this-room-first = a tenant is checked in to the room they live in (人房匹配): record the resident in this room first
why-the-room-is-archived-moved-out-restore-it-before-checking-a-tenant-in = the room is archived (moved out); restore it before checking a tenant in
why-the-tenant-already-has-an-open-stay-check-it-out-first = the tenant already has an open stay: check it out first
cli-registration-rate = { $name }: per person { $people }% ({ $registered }/{ $living }) · per room { $rooms }% ({ $registered_rooms }/{ $occupied })
cli-registration-whole-area = area
cli-area-created = created { $level } { $code } { $name }: { $id }
cli-area-renamed = renamed { $code } to { $name }; it is sent with the next sync
cli-building-added = building { $address } added: { $id }
cli-station-added = micro fire station { $name } added: { $id }
cli-available-steps = steps you can take now: { $steps }
server-cannot-listen = cannot listen on { $addr }: { $reason }
server-tls-certificate = cannot read the certificate file ({ $detail })
server-tls-no-certificate = the certificate file holds no PEM certificate
server-tls-key = cannot read the private key file (PEM, PKCS#8, PKCS#1 or SEC1) ({ $detail })
server-tls-rustls = the certificate and key do not make a TLS configuration ({ $detail })

## Permission rules' reasons (the same the server gives a refused change)

deny-areas-admin-only = areas are managed by an admin
deny-head-hazards-only = a building head may report hazards, not other cases
deny-crew-alarms-only = a fire crew only adds steps to the alarms dispatched to its station
deny-mediator-disputes-only = a mediator only adds steps to the disputes they work
deny-role-may-not-change = a { $role } may not change a { $kind }
deny-no-delete = a { $role } may not delete records (archive them instead)
deny-not-placed-yet = the server does not know where this { $kind } is yet (its building or area has not arrived): send that first
deny-outside-reach = this { $kind } is outside { $whose }
deny-command-centre-only = only the command centre may { $step } a case
deny-head-annotates-only = a building head may add notes and photos but not change a case's status
deny-not-your-alarm = this case is not an alarm dispatched to your station
deny-crew-steps-only = a fire crew may acknowledge, set off, arrive and resolve; it may not { $step } a case
deny-not-your-dispute = this case is not a dispute escalated to your line of defence in your area
deny-mediator-steps-only = a mediator works disputes; they may not { $step } a case
deny-head-registers-own-building = a building head may register only residents of its own building's households
deny-whose-gridworker = your grid(s)
deny-whose-building-head = your building(s)
deny-whose-dispatcher = your subdistrict
deny-whose-fire-crew = your areas
deny-whose-mediator = your areas
deny-whose-admin = your areas
deny-role-gridworker = gridworker
deny-role-building-head = building head
deny-role-fire-crew = fire crew
deny-role-dispatcher = dispatcher
deny-role-mediator = mediator
deny-role-admin = admin

## The sync server's error codes (docs/sync-protocol.md), shown on the phone

srv-bad-json = the body is not JSON
srv-invalid-body = the body has the wrong shape
srv-bad-query = the query parameters are wrong
srv-bad-body = the body could not be read
srv-unauthorized = the device's credentials were refused
srv-invalid-code = the enrollment code is unknown, used or expired: ask the admin for a new one
srv-unsupported-version = the server does not speak this protocol version: update the app
srv-not-found = no such path on the server
srv-method-not-allowed = the server does not take this method here
srv-body-timeout = the body stopped arriving
srv-device-exists = this device is enrolled already
srv-blob-not-found = no such photo on the server, or not yours to see
srv-payload-too-large = the body is too large
srv-too-many-ops = too many operations in one push
srv-too-many-values = too many values in one push
srv-unsupported-media-type = the body's content type is wrong
srv-rate-limited = too many requests
srv-storage-error = the server could not read or write its database (nothing was changed)
srv-busy = the server is busy: try again shortly
srv-too-many-connections = the server holds as many connections as it may: try again shortly
srv-not-ready = the server is not ready
srv-bad-hash = the photo's hash is malformed
srv-bad-upload-header = the upload's offset or length header is missing or wrong
srv-beyond-upload-length = the body goes past the upload's length
srv-offset-mismatch = the upload's offset is not where the server stands: resume from there
srv-blob-too-large = the photo is too large
srv-chunk-too-large = the upload chunk is too large
srv-bad-content-type = the upload's content type is wrong
srv-hash-mismatch = the photo does not match its hash: upload it again from the start
srv-upload-quota = this device's upload quota for today is used up: try again tomorrow
srv-blob-store-unavailable = the photo store does not answer: try again shortly
srv-internal-error = the server had an internal error
srv-unknown = the server answered with an error

## `--help`: every command's and flag's description (`help-` and the command's path, `--` and the flag's id; ADR 0039's addendum)

help-gridwork = The `gridwork` command: a device from the terminal, and `gridwork demo`.
help-gridwork--store = The device's store (a SQLite file; created on first use)
help-gridwork--key_file = The store's encryption key: a file holding 64 hexadecimal digits (make one with `gridwork device new-key`). A new store opened with a key is created encrypted; an encrypted store opens only with its key. The key is read from a file, never taken on the command line or from an environment variable, so it stays out of shell history and process listings
help-gridwork--json = Print listings and results as JSON
help-gridwork--log = Log to standard error at this level (error, warn, info, debug, trace); no log by default. Log lines never carry names, phones or ID numbers
help-gridwork--lang = The language of states, headers and messages: zh (中文, the default) or en. `--json` keeps the stable codes in either
help-gridwork-demo = Run the whole system on embedded defaults: a sync server, five devices and a day of field work, then show convergence, the conflict, open cases and the weekly brief
help-gridwork-demo--seed = Makes the run repeatable: the same seed, the same subdistrict and the same day
help-gridwork-demo--data_dir = Keep the server and device stores here instead of a temporary folder
help-gridwork-device = Enroll this device, or show its status
help-gridwork-device-enroll = Enroll with a one-time code from the administrator
help-gridwork-device-enroll--server = The sync server's address (https://… or http://…)
help-gridwork-device-enroll--code = The one-time enrollment code
help-gridwork-device-enroll--name = This device's name, as the administrator sees it
help-gridwork-device-enroll--ca_cert = A PEM file with the CA certificate of an https:// server that uses a private CA; kept by the device and trusted, besides the public roots, from then on
help-gridwork-device-status = This device: id, user, server, unsynced changes, sync state
help-gridwork-device-retention = How long a checked-out tenant's personal data stays on this device (the subdistrict's policy); with `--days`, set it and purge what the new period covers at once
help-gridwork-device-retention--days = Days after check-out (0 to 3650; the default policy is 90)
help-gridwork-device-new-key = Write a new random encryption key to a file (readable by its owner only), for `--key-file`
help-gridwork-device-new-key--out = The file to write the key to (must not exist)
help-gridwork-device-export-unsynced = Write every change not yet accepted by the server to a file, as JSON lines. Works on a damaged store too (it reads a copy and changes nothing)
help-gridwork-device-export-unsynced--out = The file to write the changes to
help-gridwork-device-recover = Recover a damaged store: move its files aside (never deleted), keep every unsynced change that can still be read (in a new store and in an export file), and let the next sync fetch the rest from the server again
help-gridwork-device-recover--export = Where to write the export (default: beside the store, named with the time)
help-gridwork-sync = Push local changes and pull others' (optionally wait for news, up to 30 s)
help-gridwork-sync--wait = Seconds to wait for news from the server (0 to 30)
help-gridwork-area = Areas: districts down to micro-grids
help-gridwork-area-list = Areas under a parent (the districts without one)
help-gridwork-area-list--parent = The parent: its code or id
help-gridwork-area-show = One area (by code or id), with the response policy in force there
help-gridwork-area-show--id = The area: its code or id
help-gridwork-area-create = Create an area under another (a new grid when grids are redrawn; an admin's step, as the server's `area create`); prints its id
help-gridwork-area-create--code = Its code (a grid: its community's 12 digits and 3 more)
help-gridwork-area-create--name = The area's name
help-gridwork-area-create--level = 区 district, 街道 subdistrict, 网层 grid_layer, 社区 community, 网格 grid, 微网格 micro_grid
help-gridwork-area-create--parent = The area above: its code or id (none for a district)
help-gridwork-area-rename = Rename an area (an admin's step, as the server's `area rename`)
help-gridwork-area-rename--id = The area: its code or id
help-gridwork-area-rename--name = The new name
help-gridwork-area-policy = A subdistrict's response policy (响应时限) for alarms and incidents: with no option, its history; with `--preset` and/or minutes, set a new one from now on (an admin's step: the server refuses anyone else's; events opened before keep theirs)
help-gridwork-area-policy--area = The subdistrict. The area: its code or id
help-gridwork-area-policy--preset = `1-3-10` (the city's) or `wulin` (1/5/30); the minutes below change it
help-gridwork-area-policy--name = The policy's name (default: the preset's, or `custom` with changed minutes)
help-gridwork-area-policy--receive = Minutes to receive (接收)
help-gridwork-area-policy--respond = Minutes to respond (响应)
help-gridwork-area-policy--on_scene = Minutes to be on scene (到达现场)
help-gridwork-area-policy--report_back = Minutes to report back (反馈)
help-gridwork-area-policy--fire_arrival = Minutes for a fire crew to be on scene (五分钟救援圈)
help-gridwork-building = Buildings of an area
help-gridwork-building-list = Buildings in an area of any level
help-gridwork-building-list--area = The area: its code or id
help-gridwork-building-add = Add a building to a grid (a new building in your grid); prints its id
help-gridwork-building-add--grid = The grid: its code or id
help-gridwork-building-add--micro_grid = A micro-grid of that grid: its code or id
help-gridwork-building-add--address_code = Its unified address code (统一地址编码, 19 digits, starting with the grid's code)
help-gridwork-building-add--address = The address as people say it (梅花碑社区 3 幢)
help-gridwork-building-add--kind = The building's kind: residential (住宅), …
help-gridwork-building-add--station = Its micro fire station (`gridwork station list`)
help-gridwork-building-add--lat = Latitude, in degrees
help-gridwork-building-add--lon = Longitude, in degrees
help-gridwork-building-edit = Change a building's kind, head, address, station, micro-grid or position (its grid changes with the server's `area move-buildings`)
help-gridwork-building-edit--id = The building: its unified address code or id
help-gridwork-building-edit--kind = The building's new kind
help-gridwork-building-edit--head = The building head's user id
help-gridwork-building-edit--address = The address as people say it
help-gridwork-building-edit--station = Its micro fire station (`gridwork station list`)
help-gridwork-building-edit--micro_grid = A micro-grid of its grid: its code or id
help-gridwork-building-edit--lat = Latitude, in degrees
help-gridwork-building-edit--lon = Longitude, in degrees
help-gridwork-household = Households: add, edit, archive, list
help-gridwork-household-list = The households of a building
help-gridwork-household-list--building = The building: its unified address code (统一地址编码) or id
help-gridwork-household-list--archived = Include households that moved out
help-gridwork-household-add = Add a household to a building; prints its id
help-gridwork-household-add--building = The building: its unified address code (统一地址编码) or id
help-gridwork-household-add--unit = The unit (2-301)
help-gridwork-household-add--kind = The household's kind: owner_occupied (自住), rental (出租), …
help-gridwork-household-add--phone = The household's phone
help-gridwork-household-edit = Change a household's unit, kind or phone
help-gridwork-household-edit--id = The household's id
help-gridwork-household-edit--unit = The new unit
help-gridwork-household-edit--kind = The new kind
help-gridwork-household-edit--phone = The new phone
help-gridwork-household-archive = The household moved out: archived, not deleted
help-gridwork-household-archive--id = The household's id
help-gridwork-resident = Residents: add, edit, archive, list (ID numbers masked)
help-gridwork-resident-list = The residents of a household, ID numbers masked
help-gridwork-resident-list--household = The household: its building's address code and unit (`3301050120010010001/2-301`), or its id
help-gridwork-resident-show = One resident, with the whole ID number for the roles that may see it
help-gridwork-resident-show--id = The resident's id
help-gridwork-resident-add = Add a resident to a household; prints their id
help-gridwork-resident-add--household = The household: its building's address code and unit (`3301050120010010001/2-301`), or its id
help-gridwork-resident-add--name = The resident's name
help-gridwork-resident-add--id_number = The resident's ID number (18 characters)
help-gridwork-resident-add--phone = The resident's phone
help-gridwork-resident-add--key_groups = Key groups, comma separated (重点人群)
help-gridwork-resident-edit = Change a resident's name, phone, ID number, key groups or room
help-gridwork-resident-edit--id = The resident's id
help-gridwork-resident-edit--name = The new name
help-gridwork-resident-edit--phone = The new phone
help-gridwork-resident-edit--id_number = The resident's ID number (18 characters), recorded or corrected
help-gridwork-resident-edit--key_groups = The key groups from now on (重点人群: 独居老人, 留守儿童, 残疾人), comma separated; `--key-group ""` clears them
help-gridwork-resident-edit--household = The room they moved to: its building's address code and unit, or its id
help-gridwork-resident-archive = The resident moved out: archived, not deleted
help-gridwork-resident-archive--id = The resident's id
help-gridwork-tenant = Tenant registration (hotel-style check-in and check-out)
help-gridwork-tenant-check-in = Check a tenant in (the resident must already be recorded in the household)
help-gridwork-tenant-check-in--resident = The tenant's resident id
help-gridwork-tenant-check-in--household = The household: its building's address code and unit (`3301050120010010001/2-301`), or its id
help-gridwork-tenant-check-in--from = Default: today
help-gridwork-tenant-check-in--until = The expected last day of the stay
help-gridwork-tenant-check-out = Check a tenant out
help-gridwork-tenant-check-out--registration = The stay's registration id
help-gridwork-tenant-check-out--on = Default: today
help-gridwork-tenant-list = A resident's stays
help-gridwork-tenant-list--resident = The resident's id
help-gridwork-tenant-rate = Registration per person (人房匹配) and per room of an area, its grids and buildings
help-gridwork-tenant-rate--area = The area: its code or id
help-gridwork-tenant-rooms = Occupied rental rooms of an area where someone is still to register
help-gridwork-tenant-rooms--area = The area: its code or id
help-gridwork-tenant-unregistered = People of an area living in rental rooms without a registration (ID numbers masked)
help-gridwork-tenant-unregistered--area = The area: its code or id
help-gridwork-tenant-expiring = Stays of an area expected to end within some days (到期提醒)
help-gridwork-tenant-expiring--area = The area: its code or id
help-gridwork-tenant-expiring--days = Within this many days
help-gridwork-tenant-overdue = Stays of an area past their expected end and not checked out
help-gridwork-tenant-overdue--area = The area: its code or id
help-gridwork-hazard = Report a hazard (隐患)
help-gridwork-hazard-report = Report a hazard at a building; prints its id
help-gridwork-hazard-report--building = The building: its unified address code (统一地址编码) or id
help-gridwork-hazard-report--title = What the hazard is (电动车楼道充电)
help-gridwork-hazard-report--category = The hazard's category (fire, …)
help-gridwork-hazard-report--severity = low, medium, high or critical
help-gridwork-dispute = Log a dispute (矛盾纠纷)
help-gridwork-dispute-log = Log a dispute in a grid; prints its id
help-gridwork-dispute-log--area = The grid (or micro-grid) the dispute is in. The area: its code or id
help-gridwork-dispute-log--title = What the dispute is about
help-gridwork-dispute-log--category = The dispute's category (neighbours, …)
help-gridwork-dispute-log--severity = low/medium: a small matter (settled the same day); high/critical: a big one
help-gridwork-alarm = Raise a fire alarm; the crew acknowledges, sets off and arrives
help-gridwork-alarm-raise = Raise a fire alarm at a building; it is dispatched to the building's micro fire station
help-gridwork-alarm-raise--building = The building: its unified address code (统一地址编码) or id
help-gridwork-alarm-raise--title = What is burning, where
help-gridwork-alarm-acknowledge = The crew has received the alarm (接收)
help-gridwork-alarm-acknowledge--case = The alarm's case id
help-gridwork-alarm-en-route = The crew sets off (出发), from where it is
help-gridwork-alarm-en-route--case = The alarm's case id
help-gridwork-alarm-en-route--lat = Where the crew is: latitude
help-gridwork-alarm-en-route--lon = Where the crew is: longitude
help-gridwork-alarm-arrive = The crew confirms arrival on scene (到达现场), where it is
help-gridwork-alarm-arrive--case = The alarm's case id
help-gridwork-alarm-arrive--lat = Where the crew is: latitude
help-gridwork-alarm-arrive--lon = Where the crew is: longitude
help-gridwork-hotline = Take a 12345 hotline case in (签收, 审核交办 to a named assignee)
help-gridwork-hotline-open = Take a case in from the 12345 platform; with `--assignee`, accept it (签收) and assign it (审核交办) to that user
help-gridwork-hotline-open--area = The grid the request is about (default: the building's grid)
help-gridwork-hotline-open--building = The building: its unified address code (统一地址编码) or id
help-gridwork-hotline-open--title = What the caller asks for
help-gridwork-hotline-open--category = The request's category
help-gridwork-hotline-open--severity = low, medium, high or critical
help-gridwork-hotline-open--assignee = The user who handles it (审核办理)
help-gridwork-hotline-open--due = The handling deadline the platform set: the end of this day (local time)
help-gridwork-incident = Raise an incident (事件: a 110 non-police event, a dispute at the scene…) and dispatch it on minute-level response times
help-gridwork-incident-raise = Raise an incident; with `--responder`, dispatch it (派单) to that user
help-gridwork-incident-raise--area = The grid it happens in (default: the building's grid)
help-gridwork-incident-raise--building = The building: its unified address code (统一地址编码) or id
help-gridwork-incident-raise--title = What happened
help-gridwork-incident-raise--category = e.g. `police_110`, `grid_event`, `dispute_at_scene`
help-gridwork-incident-raise--severity = low, medium, high or critical
help-gridwork-incident-raise--responder = The user to dispatch it to
help-gridwork-case = Cases: list open ones most urgent first, show a timeline, record a step
help-gridwork-case-list = Open cases, most urgent first (red, yellow, green)
help-gridwork-case-list--area = Only cases in this area (code or id)
help-gridwork-case-list--kind = Only the cases of this kind
help-gridwork-case-list--mine = Only the cases waiting on you (assigned to you, dispatched to your station)
help-gridwork-case-show = A case and its timeline
help-gridwork-case-show--id = The case's id
help-gridwork-case-act = Record a lifecycle step: accept, review-assign, handle, completion-review, send-back, call-back, close, dispatch, acknowledge, en-route, arrive, resolve, review, assign, fix, recheck-pass, recheck-fail, mediate, escalate, settle, not-settled, note, photo
help-gridwork-case-act--id = The case's id
help-gridwork-case-act--action = The step (see above)
help-gridwork-case-act--level = The defence level for mediate/escalate/settle/not-settled
help-gridwork-case-act--text = The reason (send-back, escalate, not-settled), agreement (settle) or note text
help-gridwork-case-act--station = The station for dispatch
help-gridwork-case-act--assignee = The user for review-assign and assign (an incident's responder)
help-gridwork-case-act--due = The deadline for review-assign and assign: the end of this day (local time)
help-gridwork-case-act--satisfied = The resident's answer at the call-back (回访): yes (满意) or no (不满意)
help-gridwork-case-act--lat = Where the crew or responder is, for en-route and arrive
help-gridwork-case-act--lon = Longitude of where the crew or responder is, for en-route and arrive
help-gridwork-case-act--photo = A photo (JPEG or PNG) for the `photo` step; with any other step, a photo step is recorded after it (整改前后: `fix --photo after.jpg`)
help-gridwork-attachment = Photos of cases (照片): list a case's with their upload, save one to a file, upload the queued ones, set when they upload
help-gridwork-attachment-list = A case's photos: each picture and thumbnail, its size, and its upload (this phone's) or whether it is on this phone (others')
help-gridwork-attachment-list--case = The case's id
help-gridwork-attachment-get = Writes a picture or thumbnail to a new file: from this phone, else fetched from the server (checked against its hash)
help-gridwork-attachment-get--hash = The picture's or thumbnail's hash
help-gridwork-attachment-get--out = The new file to write
help-gridwork-attachment-upload = Uploads the queued photos (resumed where the server's bytes end)
help-gridwork-attachment-upload--unmetered = The network is unmetered (Wi-Fi): photos go under the `unmetered` policy too
help-gridwork-attachment-policy = When photos upload: any (any network), unmetered (Wi-Fi only), paused
help-gridwork-attachment-policy--policy = any, unmetered or paused
help-gridwork-patrol = Patrols (巡查): start one, check in at buildings, report findings, end it, review it
help-gridwork-patrol-start = Start a patrol of an area (your grid) now; prints its id
help-gridwork-patrol-start--area = The area: its code or id
help-gridwork-patrol-visit = Check in at a building on the patrol
help-gridwork-patrol-visit--patrol = The patrol's id
help-gridwork-patrol-visit--building = The building: its unified address code or id
help-gridwork-patrol-visit--note = A note on the visit
help-gridwork-patrol-visit--lat = Where you are: latitude
help-gridwork-patrol-visit--lon = Where you are: longitude
help-gridwork-patrol-finding = Report what was found at a building on the patrol: a hazard (隐患) or a finding
help-gridwork-patrol-finding--patrol = The patrol's id
help-gridwork-patrol-finding--building = The building: its unified address code or id
help-gridwork-patrol-finding--title = What was found
help-gridwork-patrol-finding--kind = hazard (隐患) or patrol_finding (巡查发现)
help-gridwork-patrol-finding--category = The finding's category
help-gridwork-patrol-finding--severity = low, medium, high or critical
help-gridwork-patrol-end = End the patrol now
help-gridwork-patrol-end--patrol = The patrol's id
help-gridwork-patrol-show = A patrol with its visits and findings
help-gridwork-patrol-show--patrol = The patrol's id
help-gridwork-key-group = Key groups (重点人群): record a visit, list the residents whose visit is overdue
help-gridwork-key-group-visit = Record a visit to a key-group resident now
help-gridwork-key-group-visit--resident = The resident's id
help-gridwork-key-group-overdue = Key-group residents of an area whose visit is overdue, the latest first
help-gridwork-key-group-overdue--area = The area: its code or id
help-gridwork-station = Micro fire stations (微型消防站) on this device
help-gridwork-station-list = Every micro fire station this device holds
help-gridwork-station-add = Add a micro fire station serving an area (a dispatcher's or an admin's step); prints its id
help-gridwork-station-add--area = The area it serves (a community or subdistrict): its code or id
help-gridwork-station-add--name = The station's name
help-gridwork-station-add--lat = Latitude, in degrees
help-gridwork-station-add--lon = Longitude, in degrees
help-gridwork-station-add--phone = Its duty phone
help-gridwork-search = Search names, addresses, phones and case titles
help-gridwork-search--query = The words to search for
help-gridwork-search--limit = At most this many results
help-gridwork-conflicts = Values of yours that lost to a concurrent edit, and flagged case events
help-gridwork-conflicts-list = Every conflict of yours
help-gridwork-conflicts-reapply = Write your losing value again
help-gridwork-conflicts-reapply--id = The conflict's id
help-gridwork-conflicts-dismiss = Accept the winner
help-gridwork-conflicts-dismiss--id = The conflict's id
help-gridwork-refused = Your changes the server refused (the records show the server's values again): list them with the reason, discard one, or make it again as a new change
help-gridwork-refused-list = Every refused change, oldest first, with why it was refused
help-gridwork-refused-discard = Drop a refused change for good (the record keeps the server's values)
help-gridwork-refused-discard--id = The refused change's id
help-gridwork-refused-redo = Make the refused change again, as a new change checked like any other
help-gridwork-refused-redo--id = The refused change's id
help-gridwork-brief = The weekly brief (工作简报) of an area
help-gridwork-brief--area = The area: its code or id
help-gridwork-brief--week_start = The week's first day, a Monday (default: the previous Monday–Sunday, the week the Tuesday meeting reviews)
help-gridwork-soak = For crash tests: write and sync without end, printing a JSON line before and after each step, until killed (see `commands/soak.rs`)
help-gridwork-soak--area = The grid whose buildings get the households and hazards
help-gridwork-soak--tag = This device's mark, one digit 1-9: its households' units start with it, its phone numbers with `13` and it; it edits only households it made
help-gridwork-soak--seed = Makes values unique across runs (below 1000) and picks the random steps
help-gridwork-server = The gridwork sync server
help-gridwork-server--lang = The language of what is printed for people: zh (中文, the default) or en (ADR 0024)
help-gridwork-server-serve = Serve the sync protocol.
    .long =
        Serve the sync protocol.

        With --tls-cert and --tls-key it serves HTTPS (rustls; TLS 1.2 and 1.3) and nothing else
        on that port; without them, plain HTTP, for loopback or behind a TLS-terminating proxy
        only: tokens and residents' data must never cross a network in clear.

        Every authenticated request takes a token from its device's bucket, every enrollment
        attempt one from its client address's bucket; an empty bucket answers 429 with
        Retry-After. A limit of 0 per minute switches that limit off.
help-gridwork-server-serve--config = A TOML file of flags (`listen = "10.0.0.11:8080"`, `trusted-proxy = ["10.0.0.0/24"]`): a flag on the command line or in its environment variable wins over the file
help-gridwork-server-serve--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-serve--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-serve--listen = Address to listen on; port 0 picks a free port (the bound address is printed)
help-gridwork-server-serve--tls_cert = PEM file with the server's certificate, then any intermediates; needs --tls-key
help-gridwork-server-serve--tls_key = PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1)
help-gridwork-server-serve--device_burst = Requests a device may make at once after a quiet spell
help-gridwork-server-serve--device_per_minute = Requests a device may make per minute in the long run (0: no limit)
help-gridwork-server-serve--enroll_burst = Enrollment attempts one client address may make at once
help-gridwork-server-serve--enroll_per_minute = Enrollment attempts per client address per minute in the long run (0: no limit)
help-gridwork-server-serve--trusted_proxy = A reverse proxy (address or CIDR network) whose X-Forwarded-For names the client; repeat the flag (or separate by commas) for several. None by default: the socket's peer is the client
help-gridwork-server-serve--callback_allow = A network (CIDR, repeatable or comma-separated) that service accounts' callbacks may reach although it is not public: a platform inside the government network, e.g. `10.20.0.0/16`. Without it, callback URLs resolving to loopback, private, link-local (cloud metadata) or other non-public addresses are refused, at registration and at every delivery (ADR 0030)
help-gridwork-server-serve--max_connections = Connections served at once; one more gets 503 too_many_connections. Default: what the descriptor limit allows (half of it, less 64), at most 10,000
help-gridwork-server-serve--header_read_timeout = Seconds a connection has to send a whole request head, and may stay idle between requests; then it is closed
help-gridwork-server-serve--body_timeout = Seconds a request body may send nothing before it is given up (408)
help-gridwork-server-serve--write_timeout = Seconds a client may take no bytes of an answer before its connection is closed
help-gridwork-server-serve--metrics_listen = Serve Prometheus metrics at http://ADDR/metrics (keep it on a private address; the bound address is printed). No metrics without it
help-gridwork-server-serve--log_format = Log lines as text, or as one JSON object per line (for a log collector)
help-gridwork-server-serve--blob_store = Where photos are kept: `s3://BUCKET` (an S3-compatible store configured by AWS_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ALLOW_HTTP; for several server processes) or a folder (`file:///PATH` or a path). Default: the folder `photos` beside the SQLite database; with PostgreSQL, `gridwork-photos` in the current folder
help-gridwork-server-serve--blob_grace_days = Days an uploaded photo no case step references is kept before the sweep deletes it
help-gridwork-server-serve--blob_max_mib = The largest photo accepted, in MiB
help-gridwork-server-serve--blob_daily_mib = The MiB of photos one device may upload per UTC day
help-gridwork-server-serve--blob_sweep_minutes = Minutes between orphan sweeps (0: never; `blobs gc` sweeps on demand)
help-gridwork-server-blobs = Photo blobs: `blobs gc` deletes the photos no case step references (older than the grace period) and partial uploads untouched for a day
help-gridwork-server-blobs-gc = Delete orphan photos and stale partial uploads now; prints what was deleted
help-gridwork-server-blobs-gc--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-blobs-gc--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-blobs-gc--blob_store = Where photos are kept: `s3://BUCKET` (an S3-compatible store configured by AWS_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ALLOW_HTTP; for several server processes) or a folder (`file:///PATH` or a path). Default: the folder `photos` beside the SQLite database; with PostgreSQL, `gridwork-photos` in the current folder
help-gridwork-server-blobs-gc--blob_grace_days = Days an uploaded photo no case step references is kept before the sweep deletes it
help-gridwork-server-import = Import a subdistrict's base data from CSV or XLSX files (docs/import.md).
    .long =
        Import a subdistrict's base data from CSV or XLSX files (docs/import.md).

        Give files or folders; each file (or each sheet of a workbook) is named for its kind:
        区域 areas, 消防站 stations, 楼栋 buildings, 房屋 households, 居民 residents, 用户 users.
        Every row is checked; refused rows are listed (file, row, column, reason) and the rest
        is written. Importing a corrected file again changes only what changed. Exits 1 when a
        row was refused.
help-gridwork-server-import--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-import--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-import--paths = The files, or folders of files, to import
help-gridwork-server-import--dry_run = Check every row and say what would change, writing nothing
help-gridwork-server-import--report = Also write the refused rows to this CSV file (文件,行,字段,原因)
help-gridwork-server-sample = Write a made-up subdistrict's files in the import templates (the README's sample is `sample samples/xiangfu`; `--residents 250000` makes the benchmark's)
help-gridwork-server-sample--dir = The folder to write the files in
help-gridwork-server-sample--residents = About how many residents (default: the README's small sample)
help-gridwork-server-sample--seed = Makes the files repeatable: the same seed, the same subdistrict
help-gridwork-server-area = Areas and grids: list, create, rename, retire, move buildings between grids
help-gridwork-server-area-list = The areas as a tree, with the buildings, households and residents each holds
help-gridwork-server-area-list--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-area-list--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-area-list--json = One JSON object per area
help-gridwork-server-area-create = Create an area under another (a new grid when grids are redrawn)
help-gridwork-server-area-create--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-area-create--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-area-create--code = Its code (a grid: its community's 12 digits and 3 more)
help-gridwork-server-area-create--name = The area's name
help-gridwork-server-area-create--level = 区 district, 街道 subdistrict, 网层 grid_layer, 社区 community, 网格 grid, 微网格 micro_grid
help-gridwork-server-area-create--parent = The code of the area above (none for a district)
help-gridwork-server-area-rename = Rename an area
help-gridwork-server-area-rename--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-area-rename--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-area-rename--area = The area's code
help-gridwork-server-area-rename--name = The new name
help-gridwork-server-area-retire = Retire an area nothing is in any more (no areas, buildings, stations or users' scopes)
help-gridwork-server-area-retire--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-area-retire--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-area-retire--area = The area's code
help-gridwork-server-area-move-buildings = Move buildings into another grid; their households, residents and cases follow, and so does every phone (the old grid's phones drop them, the new grid's receive them)
help-gridwork-server-area-move-buildings--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-area-move-buildings--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-area-move-buildings--to = The grid's code
help-gridwork-server-area-move-buildings--micro_grid = A micro-grid of that grid
help-gridwork-server-area-move-buildings--building = A building's unified address code (or id); repeat, or separate by commas
help-gridwork-server-area-move-buildings--prefix = Every building whose address code starts with these digits
help-gridwork-server-admin = Manage users and devices
help-gridwork-server-admin-create-user = Create a user; prints the new user id
help-gridwork-server-admin-create-user--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-admin-create-user--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-admin-create-user--name = The user's name
help-gridwork-server-admin-create-user--role = 网格员 gridworker, 楼长 building_head, 消防队员 fire_crew, 调度员 dispatcher, 调解员 mediator or 管理员 admin
help-gridwork-server-admin-create-user--scope = What the user works in, comma separated: area codes (a building head: address codes; a fire crew: station names), or ids. Each must be stored
help-gridwork-server-admin-set-scope = Replace a user's scope (a grid redrawn, another building): their devices take the new scope on their next sync, purging what they may no longer hold
help-gridwork-server-admin-set-scope--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-admin-set-scope--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-admin-set-scope--user = The user's id
help-gridwork-server-admin-set-scope--scope = The new scope, comma separated, as for create-user (empty: nothing, except for an admin)
help-gridwork-server-admin-enrollment-code = Make a one-time enrollment code for a user (valid 24 hours); prints it
help-gridwork-server-admin-enrollment-code--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-admin-enrollment-code--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-admin-enrollment-code--user = The user: their id, or their name when no one else has it
help-gridwork-server-admin-revoke-device = Revoke a device: its next request is refused
help-gridwork-server-admin-revoke-device--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-admin-revoke-device--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-admin-revoke-device--device = The device's id
help-gridwork-server-admin-list-devices = List enrolled devices
help-gridwork-server-admin-list-devices--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-admin-list-devices--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-admin-create-service-account = Create a service account for a system that sends work orders (the 12345 platform, the 110 linkage), scoped to an area; prints its id and its token (shown only here)
help-gridwork-server-admin-create-service-account--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-admin-create-service-account--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-admin-create-service-account--name = What the system is, e.g. "12345 hotline platform"
help-gridwork-server-admin-create-service-account--area = The id of the area (subdistrict, community, grid) it may send work orders into
help-gridwork-server-admin-revoke-service-account = Revoke a service account: its token is refused from the next request
help-gridwork-server-admin-revoke-service-account--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-admin-revoke-service-account--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-admin-revoke-service-account--account = The service account's id
help-gridwork-server-admin-list-service-accounts = List service accounts: id, state, area, callback URL, name
help-gridwork-server-admin-list-service-accounts--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-admin-list-service-accounts--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-admin-console-password = Set the password a dispatcher or admin signs in to the web console (/console) with, read from standard input (one line, at least 10 characters); ends their sessions
help-gridwork-server-admin-console-password--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-admin-console-password--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-admin-console-password--user = The user: their id, or their name when no one else has it
help-gridwork-server-audit = Read and check the audit log (who saw a full ID number, exports, admin changes, refused accesses)
help-gridwork-server-audit-verify = Check the whole chain: exits with an error naming the first entry removed or altered; otherwise prints the number of entries and the head hash (note it elsewhere: a log cut short later no longer ends with it)
help-gridwork-server-audit-verify--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-audit-verify--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-audit-verify--expect_head = The head hash noted earlier: also fail when the log no longer contains it
help-gridwork-server-audit-patrols = Check every patrol's chain of visits: prints each patrol whose visits were removed, inserted or back-dated after the fact (and exits with an error), or how many verify
help-gridwork-server-audit-patrols--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-audit-patrols--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-audit-list = List entries, oldest first: seq, time, actor, action, record, reason
help-gridwork-server-audit-list--db = The SQLite database file (created if missing): the default, for one server process
help-gridwork-server-audit-list--database = A PostgreSQL database, postgres://USER:PASSWORD@HOST:PORT/DATABASE (migrated if needed), which several server processes may share. Read from GRIDWORK_DATABASE_URL when not given (which keeps the password out of the process list)
help-gridwork-server-audit-list--resident = Entries about this resident (or any record) id
help-gridwork-server-audit-list--actor = Entries by this actor (a user, device or service account id; `admin:` for the admin commands)
help-gridwork-server-audit-list--action = The kind of entry: read_id_number, export, admin_change or refused
help-gridwork-server-audit-list--since = Entries at or after this time: ms since the epoch, a date (`2026-12-01`, China time) or an RFC 3339 time
help-gridwork-server-audit-list--until = Entries before this time (as `--since`)
help-gridwork-server-audit-list--before = The page before this entry: the `--before` a full page names
help-gridwork-server-audit-list--limit = At most this many (the newest of those picked), oldest first
help-gridwork-server-audit-list--json = One JSON object per line

# Record photos (building photo …, household photo …)
help-gridwork-building-photo = A building's photos (a blocked exit, a hazard seen): add, list, remove
help-gridwork-building-photo-add = Add a photo (JPEG or PNG): recorded at once (offline too), queued for upload (`attachment upload`)
help-gridwork-building-photo-add--id = The building (address code or id) or household (`CODE/UNIT` or id)
help-gridwork-building-photo-add--photo = The picture file (JPEG or PNG, at most 32 MiB)
help-gridwork-building-photo-list = The photos: each picture and thumbnail, its size, and its upload (this phone's) or whether it is on this phone (others')
help-gridwork-building-photo-list--id = The building (address code or id) or household (`CODE/UNIT` or id)
help-gridwork-building-photo-remove = Remove a photo, named by its picture's hash
help-gridwork-building-photo-remove--id = The building (address code or id) or household (`CODE/UNIT` or id)
help-gridwork-building-photo-remove--hash = The picture's hash (SHA-256, 64 hex digits), as `photo list` shows it
help-gridwork-household-photo = A household's photos (a rented room's state): add, list, remove
help-gridwork-household-photo-add = Add a photo (JPEG or PNG): recorded at once (offline too), queued for upload (`attachment upload`)
help-gridwork-household-photo-add--id = The building (address code or id) or household (`CODE/UNIT` or id)
help-gridwork-household-photo-add--photo = The picture file (JPEG or PNG, at most 32 MiB)
help-gridwork-household-photo-list = The photos: each picture and thumbnail, its size, and its upload (this phone's) or whether it is on this phone (others')
help-gridwork-household-photo-list--id = The building (address code or id) or household (`CODE/UNIT` or id)
help-gridwork-household-photo-remove = Remove a photo, named by its picture's hash
help-gridwork-household-photo-remove--id = The building (address code or id) or household (`CODE/UNIT` or id)
help-gridwork-household-photo-remove--hash = The picture's hash (SHA-256, 64 hex digits), as `photo list` shows it
