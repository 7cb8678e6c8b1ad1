# gridwork's message catalogue, English. Its keys are those of zh.ftl, one for one; every key
# must exist in both languages (the gridwork-i18n tests check it).

## The terminal device: general

cli-error = error: { $message }
cli-none = (none)
cli-yes = yes
cli-never = never
cli-under-way = {" "}(under way)
cli-not-enrolled = (not enrolled)
cli-invalid-input = invalid input: { $field }: { $reason }
cli-not-allowed-now = not allowed now: { $message }
cli-not-allowed = not allowed: { $message }
cli-not-found = no { $kind } with id { $id }
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
