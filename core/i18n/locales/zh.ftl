# gridwork 的消息目录（简体中文，默认语言）。键与 en.ftl 一一对应；
# 每个键在两种语言中都必须存在（gridwork-i18n 的测试会检查）。

## 终端设备：通用

cli-error = 错误：{ $message }
cli-none = （无）
cli-yes = 是
cli-never = 从未
cli-under-way = （进行中）
cli-not-enrolled = （未注册）
cli-no-building-code = --building：本设备上没有地址编码为 { $code } 的楼栋（编码为 19 位数字；请先同步，或确认它在你的范围内）
cli-no-household = --household：本设备上没有住户 { $value }（请写成 地址编码/单元，例如 3301050120010010001/2-301，或写编号）
cli-no-area-code = --area：本设备上没有编码为 { $code } 的区域（请先同步，或确认它在你的范围内）
cli-patrol-kind = --kind：巡查只能上报隐患或巡查发现

## 表头

col-id = 编号
col-level = 层级
col-code = 编码
col-name = 名称
col-since = 起始
col-policy = 时限
col-address-code = 地址编码
col-address = 地址
col-kind = 类型
col-unit = 单元
col-phone = 电话
col-archived = 已归档
col-id-number = 身份证号
col-key-groups = 重点人群
col-registration = 登记
col-check-in = 入住
col-check-out = 退房
col-expected-end = 预计离开
col-household = 住户
col-unregistered-people = 未登记人数
col-nobody-registered = 无人登记
col-resident = 居民
col-last-visit = 上次走访
col-days-late = 逾期天数
col-position = 位置
col-case = 案件
col-title = 标题
col-state = 状态
col-colour = 督办色
col-due = 应完成
col-record = 记录
col-field = 字段
col-kept = 保留值
col-yours-lost = 你的值（未采用）
col-event = 事件
col-why-it-was-not-applied = 未采用原因
col-change = 变更
col-why-it-was-refused = 拒绝原因
col-text = 内容

## 状态（案件）

state-received = 已受理
state-accepted = 已签收
state-assigned = 已交办
state-handled = 已办理
state-completion_reviewed = 已办结审核
state-called_back = 已回访
state-closed = 已办结
state-raised = 已报警
state-dispatched = 已派出
state-acknowledged = 已确认
state-en_route = 出动中
state-on_scene = 已到场
state-resolved = 已处置
state-reviewed = 已复核
state-reported = 已上报
state-fixed = 已整改
state-logged = 已登记
state-mediating = 调解中
state-settled = 已化解
state-not_settled = 未化解
state-open = 待处理

## 化解层级

level-micro_grid_leader = 微网格长
level-gridworker = 网格员/村干部
level-village_secretary = 村书记
level-subdistrict_mediation_centre = 街道调解中心

## 类型

kind-hazard = 隐患
kind-dispute = 矛盾纠纷
kind-alarm = 火警
kind-hotline = 12345 热线
kind-patrol_finding = 巡查发现
kind-incident = 事件
area-district = 区
area-subdistrict = 街道
area-grid_layer = 网格层
area-community = 社区
area-grid = 网格
area-micro_grid = 微网格
building-residential = 住宅
building-rental = 出租楼
building-mixed_use = 商住混合
building-factory = 厂房
building-shop = 商铺
building-public = 公共建筑
household-owner_occupied = 自住
household-rental = 出租
household-group_rental = 群租
household-vacant = 空置
keygroup-elderly_living_alone = 独居老人
keygroup-left_behind_child = 留守儿童
keygroup-disabled = 残疾人
severity-low = 低
severity-medium = 中
severity-high = 高
severity-critical = 紧急
colour-green = 绿
colour-yellow = 黄
colour-red = 红

## 巡查、重点人群

patrol-started = 巡查已开始，编号 { $id }
patrol-visited = 已在楼栋 { $building } 打卡，时间 { $at }
patrol-reported = 已上报：{ $id } { $title }
patrol-ended = 巡查已结束，编号 { $id }
patrol-summary = 巡查 { $id }，开始于 { $from }{ $until }
patrol-until = ，结束于 { $at }
patrol-buildings = 走访楼栋：{ $buildings }（打卡 { $visits } 次）
patrol-findings = 发现：{ $findings }
keygroup-visit-recorded = 已记录走访：{ $name }

## 校验：字段

field-resident-id_number = 身份证号
field-resident-name = 姓名
field-resident-phone = 电话
field-household-phone = 电话
field-household-unit = 单元
field-station-phone = 电话
field-station-name = 名称
field-area-name = 区域名称
field-area-code = 区域编码
field-building-address_code = 地址编码
field-building-address = 地址
field-building-grid_id = 网格
field-case-title = 标题
field-case-category = 类别
field-case-position = 位置
field-position = 位置
field-household-kind = 类型
field-household-archived = 归档
field-household-building_id = 楼栋
field-resident-household_id = 房间
field-resident-key_groups = 重点人群
field-resident-archived = 归档
field-resident-last_visit_ms = 最近走访
field-building-kind = 类型
field-building-head_user_id = 楼长
field-building-station_id = 微型消防站
field-building-micro_grid_id = 微网格
field-building-position = 位置
field-registration-resident_id = 租客
field-registration-household_id = 房间
field-registration-check_in = 入住日期
field-area-parent_id = 上级区域
field-area-level = 层级
field-area-response_policies = 响应时限
field-station-position = 位置
field-station-area_id = 区域
field-photo = 照片
field-registration-expected_end = 预计离开日期
field-registration-check_out = 退房日期

## 校验：原因

why-must-not-be-empty = 不能为空
why-resident-id-number-is-empty = 身份证号为空
why-resident-id-number-must-be-18-characters-long = 身份证号必须为 18 位
why-resident-id-number-must-be-17-digits-followed-by-a-digit-or-x = 身份证号必须为 17 位数字加一位数字或 X
why-resident-id-number-cannot-start-with-0 = 身份证号不能以 0 开头
why-birth-date-in-resident-id-number-is-not-a-real-date = 身份证号中的出生日期不存在
why-birth-date-in-resident-id-number-is-before-1900 = 身份证号中的出生日期早于 1900 年
why-birth-date-in-resident-id-number-is-in-the-future = 身份证号中的出生日期在将来
why-resident-id-number-check-digit-does-not-match-gb-11643 = 身份证号校验位不符（GB 11643）
why-phone-number-is-empty = 电话号码为空
why-only-chinese-86-phone-numbers-are-accepted = 只接受中国（+86）电话号码
why-phone-number-may-contain-only-digits-spaces-and-a-86-prefix = 电话号码只能包含数字、空格、“-”和 +86 前缀
why-phone-number-must-be-a-mobile-starting-with-1-or-a-landline-starting-with-0 = 电话号码须为以 1 开头的手机号或以 0 开头的固定电话
why-mobile-number-must-have-11-digits = 手机号必须为 11 位
why-mobile-number-must-start-with-13-to-19 = 手机号必须以 13 至 19 开头
why-local-number-must-have-7-or-8-digits-after-the-area-code = 区号后的号码必须为 7 或 8 位
why-local-number-cannot-start-with-0-or-1 = 区号后的号码不能以 0 或 1 开头
why-extension-must-be-1-to-6-digits-after-or = 分机号须为“-”或“转”后的 1 至 6 位数字
why-latitude-and-longitude-must-be-finite-numbers = 纬度和经度必须是有限数值
why-latitude-must-be-between-90-and-90-degrees = 纬度必须在 -90 到 90 度之间
why-longitude-must-be-between-180-and-180-degrees = 经度必须在 -180 到 180 度之间
why-must-name-a-grid = 必须指定一个网格

## 工作简报

brief-title = 工作简报
brief-as-at = 截至
brief-week-not-over = 本周未完
brief-cases = 案件
brief-kind = 类型
brief-opened = 新增
brief-closed = 办结
brief-open-at-week-end = 未结
brief-total = 合计
brief-supervision = 红黄绿督办
brief-red = 红
brief-yellow = 黄
brief-green = 绿
brief-grid = 网格
brief-case = 案件
brief-step = 环节
brief-due = 应完成
brief-overdue-by = 超期
brief-disputes = 矛盾纠纷
brief-settled = 化解
brief-settled-by = 化解层级
brief-count = 件数
brief-inside-grid = 小事不出网格
brief-inside-village = 大事不出村社
brief-overnight = 小事不过夜
brief-within-month = 大事不满月
brief-policy = 响应时限
brief-policy-default = 默认
brief-policy-since = 自
brief-in-force = 现行
brief-changed-this-week = 本周调整
brief-changed-note = 此后发生的事件适用新时限，此前的沿用原时限
brief-by-policy = 本周火警与事件
brief-fire-alarms = 消防
brief-alarms = 火警
brief-incidents = 事件
brief-dispatched-incidents = 派单事件
brief-no-arrival = 未记录到场
brief-median-arrival = 到场中位数
brief-worst = 最慢
brief-within-minutes = { $minutes } 分钟内到场
brief-within-target = 按时到场
brief-arrivals = 起
brief-minutes = 分钟
brief-registration = 流动人口登记
brief-per-person = 按人
brief-per-room = 按间
brief-people = 人
brief-rooms = 间
brief-to-register = 待登记
brief-in = 在
brief-overdue-stays = 逾期未退
brief-hazards = 隐患
brief-found = 发现
brief-fixed = 整改复查通过
brief-open = 未结
brief-key-groups = 一老一小
brief-residents = 重点人员
brief-visited = 本周走访
brief-overdue = 走访逾期
brief-patrol-visits = 巡查打卡
brief-legacy-visits = 链前旧巡查打卡（未链，单列）
brief-ranking = 晾晒比拼
brief-rank = 名次
brief-red-cases = 红色案件
brief-registered-people = 登记率(按人)
brief-hazards-fixed = 隐患整改
brief-visits-overdue = 走访逾期
brief-cases-opened = 新增案件
brief-patrol = 巡查
brief-ranked-by = 排名依据
brief-rank-rule = 红色案件少 → 登记率(按人)高 → 隐患整改多 → 走访逾期少
brief-kind-hazard = 隐患
brief-kind-dispute = 矛盾纠纷
brief-kind-alarm = 火警
brief-kind-hotline = 12345 热线
brief-kind-patrol_finding = 巡查发现
brief-kind-incident = 事件

## 运维命令行（gridwork-server）

server-error = 错误：{ $message }
server-audit-verified = 审计日志完整：{ $entries } 条，链尾 { $head }
server-audit-when = 时间
server-audit-kind = 类别
server-audit-actor = 操作人
server-audit-record = 记录
server-audit-why = 原因
server-audit-none = （无审计记录）
server-audit-more = 还有更早的记录：用 --before { $seq } 查看上一页

## 终端设备：注册、同步与本机

cli-enrolled = 已注册为 { $user }（{ $role }），设备 { $device }
cli-synced = 已上传 { $pushed } 条，被拒 { $rejected } 条，已下载 { $pulled } 条，新冲突 { $conflicts } 个，{ $bytes } 字节，用时 { $ms } 毫秒

## 终端设备：照片

cli-photo-taken = 照片已记入案件并排队上传：{ $hash }（{ $size } 字节）
cli-record-photo-added = 照片已加入该记录并排队上传：{ $hash }（{ $size } 字节）
cli-record-photo-removed = 已从该记录移除照片 { $hash }
cli-photo-needs-file = `photo` 步骤需要 --photo 文件（JPEG 或 PNG）
cli-bad-hash = 照片的哈希应为 64 个小写十六进制字符（SHA-256）
cli-out-file-failed = 无法写入 --out 指定的文件 { $file }：{ $reason }
cli-attachment-saved = 已将 { $hash } 写入 { $file }（{ $size } 字节，哈希已核对）
cli-attachment-not-yet = 服务器上还没有 { $hash }（拍照的手机尚未上传），请稍后再试
cli-attachment-here = 在本机
cli-attachment-not-here = 未下载
cli-uploaded = 照片上传：完成 { $completed } 个，发送 { $bytes } 字节，仍在队列 { $queued } 个
cli-upload-stopped = （已停止：{ $reason }）
cli-bad-upload-policy = 上传策略应为 any（任何网络）、unmetered（仅无线网络）或 paused（暂停）
cli-upload-policy-set = 照片上传策略：{ $policy }
col-hash = 哈希
col-role = 用途
col-size = 字节
col-sent = 已上传
upload-state-queued = 排队中
upload-state-uploading = 上传中
upload-state-uploaded = 已上传
upload-state-paused = 已暂停
upload-state-waiting_for_unmetered = 等待无线网络
upload-state-quota_exceeded = 今日上传额度已用完
upload-state-too_large = 超过服务器大小上限
upload-state-hash_mismatch = 校验不符，需重传
blob-role-picture = 照片
blob-role-thumbnail = 缩略图
upload-policy-any_network = 任何网络
upload-policy-unmetered_only = 仅无线网络
upload-policy-paused = 暂停
cli-device-status =
    设备 { $device }
    服务器 { $server }
    待上传的修改：{ $unsynced }
    被拒的修改：{ $refused }（见 `gridwork refused list`）
    本机数据：{ $encryption }
cli-store-encrypted = SQLCipher { $version } 加密，每页以 { $mac } 校验
cli-store-not-encrypted = 未加密（本机数据库文件可被直接读取）
cli-retention = 已退租的租客在退租 { $days } 天后从本设备清除
cli-retention-set = 已退租的租客今后在退租 { $days } 天后从本设备清除（本次清除 { $purged } 条记录）
cli-new-key = 新密钥已写入 { $file }：请妥善保管，没有它就无法读取本机数据
cli-exported-unsynced = 已将 { $changes } 条待上传的修改写入 { $file }
cli-recovered = 已恢复：保留 { $kept } 条待上传的修改，{ $unreadable } 条无法读取
cli-recovered-export = 已导出到 { $file }
cli-recovered-kept-file = 损坏的文件保留在 { $file }
cli-recovered-sync = 请运行 `gridwork sync`，从服务器取回其余数据并发送保留的修改
cli-recovered-enroll = 本设备的身份已丢失：请重新注册；保留的修改列为被拒的修改，可以重新录入

## 终端设备：案件、步骤与时间线

cli-case-live = 实时
cli-case-due = （期限 { $due }）
cli-hotline-taken-in = 已受理12345工单：{ $id }
cli-incident-raised = 已上报警情：{ $id }
cli-hazard-reported = 已上报隐患：{ $id }
cli-dispute-logged = 已登记矛盾纠纷：{ $id }
cli-alarm-raised = 已报警并派发：{ $id }
cli-arrived-within = 出警 { $minutes } 分钟到场：在 { $target } 分钟目标之内
cli-arrived-beyond = 出警 { $minutes } 分钟到场：超出 { $target } 分钟目标
cli-arrival-recorded = 已记录到场
cli-refused-discarded = 已放弃被拒的修改；记录保留服务器上的值
cli-refused-redone = 已作为新的修改重新录入；同步后发送
cli-conflict-reapplied = 已重新写入你的值；同步后发送
cli-conflict-dismissed = 已忽略该冲突
cli-timeline-me = 我
cli-timeline-user = 用户 { $id }
cli-timeline-by = 经办：{ $who }
cli-timeline-due = 期限 { $due }
cli-timeline-detail = { $what }：{ $value }
cli-timeline-not-applied = ⚠ 未生效：{ $reason }
detail-agreement = 协议
detail-assignee = 承办人
detail-level = 层级
detail-passed = 复查结果
detail-photo = 照片
detail-position = 位置
detail-reason = 理由
detail-satisfied = 满意度
detail-station = 微型消防站
detail-text = 内容

## 终端设备：楼栋、住户、居民与租客

cli-building-updated = 楼栋 { $address } 已更新
cli-household-added = 住户 { $unit } 已添加：{ $id }
cli-household-updated = 住户 { $unit } 已更新
cli-household-archived = 住户 { $unit } 已归档（已搬离）
cli-resident-added = 居民 { $name } 已添加：{ $id }
cli-resident-updated = 居民 { $name } 已更新
cli-resident-archived = 居民 { $name } 已归档
cli-checked-in = 已于 { $from } 入住登记：登记编号 { $id }
cli-checked-out = 已于 { $on } 退租
cli-policy-set =
    响应时限自即日起为：{ $policy }
    此前发起的火警与警情保留原时限；同步后发送

## 运维命令行：账号、导入与区域

admin-no-user = 无此用户 { $user }
admin-user-unknown = --user：无此用户 { $name }
admin-user-ambiguous = --user：有 { $count } 个用户名为 { $name }；请给出编号
admin-scope-replaced = 已替换 { $user } 的范围
admin-no-device = 无此设备 { $device }
admin-revoked = 已吊销 { $device }
admin-device-active = 在用
admin-device-revoked = 已吊销
admin-console-password-set = 已设置 { $user } 的控制台密码；请在 /console 登录
sample-written = { $dir }：区域 { $areas } 个，微型消防站 { $stations } 个，楼栋 { $buildings } 幢，房屋 { $households } 户，居民 { $residents } 人，用户 { $users } 个
blobs-gc-done = 照片清理完成：共 { $blobs } 张，删除无引用且超过 { $days } 天的 { $deleted } 张（{ $mib } MiB），删除闲置超过 24 小时的未完成上传 { $uploads } 个
import-stage-reading = 读取已有数据
import-stage-checking = 检查{ $kind }
import-stage-writing = 写入{ $kind }
import-no-file = 没有可导入的文件；文件请命名为 { $names }
import-dry-run = 试运行，未写入任何数据
import-counts = { $kind }：新建 { $created }，更新 { $updated }，未变 { $unchanged }，拒绝 { $refused }
import-refused-header = 文件	行	字段	原因
import-refused = 拒绝 { $rows } 行；请改正后重新导入这些文件
import-why-server-refused = 服务器拒绝了这一行：{ $reason }
import-why-unknown-value = 未知的值；可选：{ $choices }
import-why-same-record = 同一条记录已在 { $source } 的第 { $row } 行
import-why-no-column = 文件缺少“{ $zh }”列（{ $en }）；所有行均未导入
import-why-stored-area-level = 已存的这个编码的区域是{ $level }
import-why-area-level = 这个编码的区域是{ $level }，不是{ $wanted }
import-why-no-area-of-level = 没有这个编码的{ $level }
import-why-stored-user-role = 已存的同名用户是{ $role }
import-why-scope-kind = { $role }的范围只能是{ $what }
import-scope-buildings = 楼栋（地址编码）
import-scope-stations = 微型消防站
import-scope-areas = 区域（区域编码）
area-refused = 被拒绝：{ $message }
area-no-code = 没有编码为 { $code } 的区域
area-exists = 编码为 { $code } 的区域已存在
area-parent-of-district = --parent：区县没有上级区域
area-parent-needed = --parent：请给出上级区域的编码
area-same-name = { $code } 已是这个名称
area-renamed = 已将 { $code } 改名为 { $name }
area-not-empty = { $code } 下还有 { $areas } 个区域、{ $buildings } 幢楼栋、{ $stations } 个微型消防站和 { $users } 个用户的范围：请先移走（area move-buildings、admin set-scope）
area-retired = 已撤销 { $code } { $name }
area-moved = 已将 { $moved } 幢楼栋移入 { $code } { $name }（{ $already } 幢原已在内）；{ $households } 户房屋和 { $residents } 名居民随之移动，各终端在下次同步时跟随
area-tree-header = 区域	层级	楼栋	房屋	居民	编号

## 演示（gridwork demo）

demo-header = gridwork 演示 · 种子 { $seed } · 数据在 { $dir }
demo-finished = 用时 { $s } 秒完成
demo-failed = 演示失败：{ $detail }
demo-fail-seed = 演示失败：生成的街道数据不完整
demo-fail-enrolled = 演示失败：5 部手机没有全部注册
demo-fail-check-in-accepted = 演示失败：没有身份证号的入住登记被接受了
demo-fail-household-accepted = 演示失败：已登记单元上的第二户住户被接受了
demo-fail-escalation-accepted = 演示失败：越级上交被接受了
demo-fail-arrival = 演示失败：没有记录到场
demo-fail-not-refused = 演示失败：服务器没有拒绝同一单元上的第二户住户
demo-fail-refused-stayed = 演示失败：服务器拒绝的住户仍留在手机上
soak-bad-tag-or-seed = --tag 须是 1 到 9 的一位数字，--seed 须小于 1000
soak-no-buildings = 本设备上区域 { $area } 内没有楼栋：请先同步
demo-listening = 同步服务器在 { $url } 监听（SQLite：{ $db }）
demo-stage-seeding = 生成街道数据
demo-seeded = 已生成{ $place }：{ $communities } 个社区（{ $names }），{ $grids } 个网格，{ $buildings } 幢楼栋，{ $households } 户房屋，{ $residents } 名居民，{ $stations } 个微型消防站
demo-stage-uploading = 上传到服务器
demo-uploaded = 已上传 { $ops } 条操作（{ $kb } KB）
demo-stage-enrolling = 手机注册并初始同步
demo-enrolled = 5 部手机已注册（1 名调度员、2 名网格员、1 名楼长、1 支消防队）
demo-stage-friday = 演练周五
demo-played = 已演完周五 08:30–18:00（模拟时钟）
demo-refused-check-in = 赵磊的手机拒绝了一次入住登记：{ $error }
demo-refused-household = 赵磊的手机拒绝了一户住户：{ $error }
demo-refused-escalation = 李强的手机拒绝了一次上交：{ $error }
demo-server-refused = 服务器拒绝了{ $name }在 9-901 单元的住户（{ $change }）：{ $reason }；手机已把记录恢复为服务器的值，{ $name }放弃了这次修改
demo-policy = { $who } 于周三 12:00 设定 { $policy }；此前发起的事件仍按 1-3-10
demo-convergence = == 收敛：每部手机恰好持有其范围内的全部数据
demo-digest = 摘要 { $digest }
demo-unsynced = 待上传 { $n }
demo-same-as-fresh = ✓ 与同范围的新手机一致
demo-different-from-fresh = ✗ 与同范围的新手机不一致
demo-converged = 已收敛 ✓
demo-not-converged = 未收敛 ✗
demo-offline-queued = （{ $n } 条修改在离线时完成，排队等到手机恢复联网）
demo-conflict = == 冲突
demo-conflict-field = { $address } · 字段 `{ $field }` 在两部离线手机上被修改
demo-conflict-won = { $lost_by } 写了 { $lost } · { $won_by } 随后写了 { $won } → 各处都以 { $won_by } 的值为准
demo-conflict-reapplied = { $lost_by } 的值没有丢失：它留在她的冲突列表里；她电话确认后重新写入了
demo-conflict-final = 每部手机上的最终值：{ $value }
demo-conflict-none = （未发现冲突）
demo-rules = == 规则在起作用
demo-rules-policy = 响应时限：{ $policy }
demo-alarm = == 火警
demo-alarm-dispatched = { $title }，地点 { $address } → 派发至 { $station }
demo-alarm-live = 经实时长轮询 { $ms } 毫秒送达消防队的手机
demo-alarm-within = 消防队在自己的手机上接收、出发、到场：{ $minutes } 分钟到场，在 { $target } 分钟目标之内 ✓
demo-alarm-beyond = 消防队在自己的手机上接收、出发、到场：{ $minutes } 分钟到场，超出 { $target } 分钟目标 ✗
demo-step-by = { $step }（{ $who }）
demo-alarm-timeline = 时间线：{ $steps }
demo-open-cases = == 周五 18:00 的在办案件，最紧急在前（实时火警在前；红 超时 · 黄 临期 · 绿 正常）
demo-due = （期限 { $due }）
demo-brief = == 工作简报：周二例会前生成，回顾上周一至周日

## 运维命令行：审计与服务账号

server-audit-broken = 审计日志在第 { $seq } 条处断裂：{ $problem }
server-patrol-flagged = 被标记
server-patrols-summary = 巡查：{ $intact } 条校验通过，{ $broken } 条被标记，{ $unchained } 条早于链式记录
server-patrols-flagged = { $broken } 条巡查被标记
server-no-service-account = 无此服务账号 { $account }

## 命令行用法（两个命令行的用法错误与 --help 标题）

usage-error = 错误：{ $message }
usage-heading = 用法：
usage-commands = 命令
usage-arguments = 参数
usage-options = 选项
usage-help-flag = 显示帮助
usage-version-flag = 显示版本
usage-more = 更多信息请运行 '--help'。
usage-unknown-argument = 无法识别的参数 '{ $arg }'
usage-unknown-subcommand = 无法识别的子命令 '{ $name }'
usage-value-required = 参数 '{ $arg }' 需要一个值
usage-invalid-value = 参数 '{ $arg }' 的值 '{ $value }' 无效
usage-possible-values = （可选值：{ $values }）
usage-because = ：{ $reason }
usage-missing-required = 缺少必需的参数：{ $args }
usage-missing-subcommand = '{ $command }' 需要一个子命令：{ $subcommands }
usage-repeated = 参数 '{ $arg }' 只能给一次
usage-conflict = 参数 '{ $arg }' 不能与 '{ $other }' 同时使用
usage-conflict-others = 参数 '{ $arg }' 不能与其他给出的参数同时使用
usage-too-many-values = 参数 '{ $arg }' 多出了值 '{ $value }'
usage-wrong-number-of-values = 参数 '{ $arg }' 需要 { $expected } 个值，实际给了 { $actual } 个
usage-no-equals = 参数 '{ $arg }' 须用等号给值（{ $arg }=值）
usage-invalid-utf8 = 参数不是有效的 UTF-8 文本
usage-unknown = 命令行有误
usage-did-you-mean = 提示：类似的{ $what }：{ $list }
usage-a-subcommand = 子命令
usage-an-argument = 参数
usage-a-value = 值
usage-tip = 提示：{ $tip }
usage-not-a-uuid = 参数 '{ $arg }' 的值不是有效的编号（UUID，形如 01890000-0000-7000-8000-000000000000）
usage-not-an-integer = 不是整数
usage-not-a-number = 不是数字

## 终端设备：用法与参数

cli-give-building = 请给出地址编码或编号
cli-give-household = 请写成 地址编码/单元，或给出编号
cli-give-area = 请给出区域编码或编号
cli-expected-one-of = 未知的值；可选：{ $choices }
cli-expected-yes-no = 请写 yes（满意）或 no（不满意）
cli-expected-lang = 请写 zh 或 en
cli-give-area-or-building = 请给出 --area 或 --building
cli-step-needs = 步骤 `{ $step }` 需要 { $flag }
cli-call-back-no-text = 步骤 `call-back` 用 --satisfied yes|no 记录回答，不用 --text；居民说的话请另记为 `note`
cli-unknown-step = 未知的步骤 “{ $step }”；见 `gridwork case act --help`
cli-unknown-preset = 未知的预设 “{ $preset }”；可选 1-3-10 或 wulin
cli-minutes-positive = 分钟数必须是正数
cli-enroll-first = 本设备尚未注册：请运行 `gridwork device enroll --server URL --code CODE`
cli-server-url = --server 必须是 http:// 或 https:// 开头的地址，而不是 “{ $value }”
cli-file-error = { $flag }：无法使用文件 { $file }：{ $reason }

## 错误（核心、存储与同步，按稳定代码）

err-invalid-input = 输入无效：{ $field }：{ $reason }
err-not-allowed-now = 当前状态不允许：{ $message }
err-not-allowed = 不允许：{ $message }
invalid-value = { $field }：{ $reason }
refused-change-edit = 修改{ $kind }：{ $fields }
refused-change-delete = 删除{ $kind }
refused-change-step = 案件步骤：{ $step }
refusal-forbidden = 你的角色或区域不允许：{ $reason }
refusal-forbidden-other = 你的角色或区域不允许此修改
refusal-invalid = 修改的值被拒绝：{ $reason }
refusal-invalid-other = 修改的值被拒绝：记录不完整或格式不对
refusal-wrong-device = 此修改不是在本机上做的，服务器不接受
refusal-clock-ahead = 做此修改时本机的时钟不对；已按正确的时间重新发送
refusal-malformed = 服务器无法接受此修改（修改的格式不对）
refusal-other = 服务器拒绝了此修改（{ $code }）
err-not-found = 无此{ $kind }（编号 { $id }）
err-newer-schema = 本机数据库的结构版本为 { $found }，比本版本 gridwork 支持的 { $supported } 新：请更新软件
err-store-damaged = 本机数据库已损坏（{ $detail }）：运行 `gridwork device recover` 可保留未上传的修改
err-wrong-key = 密钥不对，或这不是 gridwork 数据库
err-key-required = 本机数据库已加密（或不是 gridwork 数据库）：请用 --key-file 给出它的密钥
err-not-encrypted = 本机数据库未加密：打开时请不要给密钥
err-clock = 时钟出错（{ $detail }）
err-decode = 存储的数据无法解读（{ $detail }）
err-storage = 存储出错（{ $detail }）
err-attachment = 照片文件出错（{ $detail }）
err-file = 文件操作失败：{ $action }：{ $reason }
err-io = 读写失败：{ $reason }
err-not-enrolled = 本设备尚未注册：请先用一次性注册码注册
err-unreachable = 无法连接服务器（{ $detail }）：请稍后再试
err-unauthorized = 服务器不接受本设备的凭据：请重新注册
err-server = 服务器拒绝了请求：{ $what }（{ $status } { $code }）
err-bad-answer = 无法读取服务器的答复（{ $detail }）
err-tls = 与服务器的安全连接失败（{ $detail }）：请检查服务器证书或 --ca-cert
err-rate-limited = 服务器要求等待 { $seconds } 秒后再试
err-step-not-a-step = 无法{ $step }：{ $kind }没有这一步（当前{ $state }）
err-step-already-done = 无法{ $step }：该{ $kind }已是{ $state }
err-step-wrong-state = 无法{ $step }：该{ $kind }当前为{ $state }
err-step-not-upward = 无法把该{ $kind }从{ $from }上交到{ $to }：只能逐级向上
err-step-skips-a-line = 无法把该{ $kind }从{ $from }上交到{ $to }：矛盾纠纷须逐级上交，下一级是{ $next }
err-step-wrong-level = 无法在{ $level }{ $step }：该{ $kind }当前为{ $state }
err-step-empty-text = 无法{ $step }：{ $field }不能为空（该{ $kind }当前为{ $state }）
io-not-found = 文件不存在
io-permission-denied = 没有权限
io-already-exists = 文件已存在
io-is-a-directory = 这是一个文件夹
io-not-a-directory = 路径中有一项不是文件夹
io-invalid-data = 内容不是有效的文本

## 案件步骤

step-accept = 签收
step-review_assign = 审核交办
step-handle = 办理
step-completion_review = 办结审核
step-send_back = 退回
step-call_back = 回访
step-close = 办结
step-dispatch = 派出
step-acknowledge = 确认接收
step-en_route = 出发
step-arrive = 到达现场
step-resolve = 处置完毕
step-review = 复核
step-assign = 交办
step-fix = 整改
step-recheck = 复查
step-mediate = 调解
step-escalate = 上交
step-settle = 化解
step-not_settled = 记为未化解
step-note = 备注
step-photo = 拍照

## 终端设备：详情

cli-area-detail =
    { $name }（{ $level } { $code }）
    编号      { $id }
    上级      { $parent }
    响应时限  { $policy }
cli-resident-detail =
    { $name }
    编号      { $id }
    住户      { $household }
    身份证号  { $id_number }
    电话      { $phone }
    重点人群  { $groups }
cli-resident-archived-mark = 已归档
cli-policy-summary = { $name }（接收 { $receive } · 响应 { $respond } · 到场 { $on_scene }{ $back } 分钟；火警到场 { $fire } 分钟）
cli-policy-report-back = { " " }· 反馈 { $minutes }

## 运维命令行：配置、范围与存储的错误

server-store-one-of = 请给出 --db PATH（SQLite）和 --database URL（PostgreSQL）二者之一
server-not-seconds = 不是秒数
server-timeout-range = 超时须大于 0、不超过 86400 秒
server-per-minute = 每分钟限额须是不小于 0 的数
server-name-empty = --name 不能为空
server-runtime = 无法启动运行时：{ $reason }
server-file-error = { $file }：{ $reason }
server-config-read = 无法读取配置文件 { $path }：{ $reason }
server-config-toml = 配置文件 { $path } 不是有效的 TOML：{ $reason }
server-config-unknown-key = 配置文件中的 `{ $key }` 不是 `serve` 的参数；可用的有：{ $known }
server-config-bad-value = 配置文件中的 `{ $key }` 须是字符串、数字、true/false 或它们的列表
server-scope-no-entry = --scope：第 { $entry } 项不是服务器上已有的区域、楼栋或微型消防站（请给出区域编码、地址编码、消防站名称或编号；请先导入区域）
server-scope-areas-only = --scope：{ $role }的范围只能是区域（区域编码）
server-scope-buildings-only = --scope：{ $role }的范围只能是楼栋（地址编码）
server-scope-stations-only = --scope：{ $role }的范围只能是微型消防站
server-console-role = 只有调度员或管理员能登录控制台；该用户是{ $role }
server-db-error = 数据库出错（{ $detail }）
server-db-bad-url = 数据库地址无效（{ $detail }）
server-db-unreachable = 无法连接 PostgreSQL 数据库 { $target }（{ $reason }）
server-db-newer = 数据库由更新版本的服务器写入（结构版本 { $found }，本服务器支持 { $supported }）：请更新服务器
server-db-corrupt = 存储的数据已损坏（{ $detail }）
server-db-task = 存储任务失败（{ $detail }）
area-to-not-grid = --to：{ $code } 是{ $level }，不是网格
area-micro-not-of-grid = --micro-grid：不是 --to 所给网格下的微网格
area-no-building-code = --building：没有地址编码为 { $code } 的楼栋
area-prefix-digits = --prefix：地址编码前缀须是数字
area-no-building-chosen = 没有选中楼栋：请给出 --building 编码或 --prefix 前缀
record-record = 记录
record-conflict = 冲突
record-refused-change = 被拒的修改
record-area = 区域
record-building = 楼栋
record-station = 微型消防站
record-household = 住户
record-resident = 居民
record-registration = 租住登记
record-case = 案件
record-patrol = 巡查
record-patrol_visit = 巡查打卡
server-password-short = 控制台密码至少需要 { $min } 个字符
server-password-control = 控制台密码不能含控制字符
server-audit-before-1970 = 日期早于 1970 年
server-audit-time = 请写自纪元起的毫秒数、日期（2026-12-01）或 RFC 3339 时间
server-audit-head-missing = 审计日志中没有先前记下的链尾 { $head }：日志末尾的记录被删除了

## 导入：被拒行的原因（导入器的固定原因）

why-must-be-a-number-in-degrees = 须是以度为单位的数
why-a-district-has-no-parent-area = 区没有上级区域
why-must-name-the-code-of-the-area-above = 须写上级区域的编码
why-no-area-has-this-code = 没有这个编码的区域
why-no-area-has-this-code-the-area-above-must-come-first-or-be-stored = 没有这个编码的区域（上级区域须排在前面，或已存入）
why-no-micro-fire-station-has-this-name = 没有这个名称的微型消防站
why-give-both-latitude-and-longitude-or-neither = 纬度和经度须同时给出，或都不给
why-no-building-has-this-address-code = 没有这个地址编码的楼栋
why-this-micro-grid-is-not-in-the-building-s-grid = 该微网格不在楼栋所在的网格内
why-no-household-at-this-unit-of-the-building-import-it-in-first = 该楼栋没有这个单元的住户（请先在“房屋”中导入）
why-an-entry-names-no-area-code-address-code-or-station = 有一项不是区域编码、地址编码或消防站
why-no-grid-has-the-code-the-address-code-starts-with-give-the-grid-s-code-in-this-column = 没有与地址编码开头相符的网格：请在此列写网格编码
why-typed-as-a-number-which-the-spreadsheet-rounded-format-the-column-as-text-and-type-it-again = 按数字输入，已被表格软件舍入：请把该列设为文本（设置单元格格式 → 文本）后重新输入
why-the-expected-end-of-the-stay-is-before-the-check-in-day = 预计离开日期早于入住日期
why-the-tenant-has-already-checked-out = 该租客已经退房
why-the-check-out-day-is-before-the-check-in-day = 退房日期早于入住日期
why-another-household-of-this-building-already-has-this-unit-add-the-people-to-it-instead = 本楼栋已有另一户住户登记了这个单元：请把人员加到那一户
why-no-resident-with-this-id-is-known-record-the-tenant-in-the-room-first = 没有这个编号的居民：请先在房间里登记该租客
why-the-resident-has-moved-out-archived = 该居民已迁出（已归档）
why-a-tenant-is-checked-in-with-a-valid-resident-id-number-record-it-on-the-resident-first = 租客登记须有有效的身份证号（登记须核验身份证）：请先在居民信息中录入
why-a-tenant-is-checked-in-to-the-room-they-live-in-record-the-resident-in-this-room-first = 租客须登记在其居住的房间（人房匹配）：请先把该居民录入这个房间
why-the-room-is-archived-moved-out-restore-it-before-checking-a-tenant-in = 该房间已归档（已迁出）；请先恢复再登记租客
why-the-tenant-already-has-an-open-stay-check-it-out-first = 该租客已有未退房的登记：请先退房
cli-registration-rate = { $name }：按人 { $people }%（{ $registered }/{ $living }）· 按间 { $rooms }%（{ $registered_rooms }/{ $occupied }）
cli-registration-whole-area = 全区域
cli-area-created = 已新建{ $level } { $code } { $name }：{ $id }
cli-area-renamed = 已将 { $code } 改名为 { $name }；同步后发送
cli-building-added = 楼栋 { $address } 已添加：{ $id }
cli-station-added = 微型消防站 { $name } 已添加：{ $id }
cli-available-steps = 可做的步骤：{ $steps }
server-cannot-listen = 无法在 { $addr } 监听：{ $reason }
server-tls-certificate = 无法读取证书文件（{ $detail }）
server-tls-no-certificate = 证书文件中没有 PEM 证书
server-tls-key = 无法读取私钥文件（PEM、PKCS#8、PKCS#1 或 SEC1）（{ $detail }）
server-tls-rustls = 证书和私钥无法组成 TLS 配置（{ $detail }）

## 权限规则的原因（与服务器拒绝修改时给出的原因相同）

deny-areas-admin-only = 区域由管理员管理
deny-head-hazards-only = 楼长只能上报隐患，不能上报其他案件
deny-crew-alarms-only = 消防队员只能为派给本站的火警记录步骤
deny-mediator-disputes-only = 调解员只能为自己处理的矛盾纠纷记录步骤
deny-role-may-not-change = { $role }不能修改{ $kind }
deny-no-delete = { $role }不能删除记录（请改为归档）
deny-not-placed-yet = 服务器还不知道该{ $kind }的位置（它的楼栋或区域尚未送达）：请先同步它们
deny-outside-reach = 该{ $kind }不在{ $whose }内
deny-command-centre-only = 只有指挥中心可以对案件执行“{ $step }”
deny-head-annotates-only = 楼长可以添加备注和照片，但不能改变案件状态
deny-not-your-alarm = 该案件不是派给本站的火警
deny-crew-steps-only = 消防队员只能确认接收、出发、到达现场和处置完毕，不能执行“{ $step }”
deny-not-your-dispute = 该案件不是上交到你所在层级、你所在区域的矛盾纠纷
deny-mediator-steps-only = 调解员只处理矛盾纠纷，不能执行“{ $step }”
deny-head-registers-own-building = 楼长只能为本楼栋住户的居民登记
deny-whose-gridworker = 你的网格范围
deny-whose-building-head = 你的楼栋范围
deny-whose-dispatcher = 你的街道范围
deny-whose-fire-crew = 你的区域范围
deny-whose-mediator = 你的区域范围
deny-whose-admin = 你的区域范围
deny-role-gridworker = 网格员
deny-role-building-head = 楼长
deny-role-fire-crew = 消防队员
deny-role-dispatcher = 调度员
deny-role-mediator = 调解员
deny-role-admin = 管理员

## The sync server's error codes (docs/sync-protocol.md), shown on the phone

srv-bad-json = 请求的内容不是有效的 JSON
srv-invalid-body = 请求的内容格式不对
srv-bad-query = 请求的参数不对
srv-bad-body = 无法读取请求的内容
srv-unauthorized = 服务器不接受本设备的凭据
srv-invalid-code = 注册码无效、已用过或已过期：请向管理员要一个新的
srv-unsupported-version = 服务器不支持这个协议版本：请更新软件
srv-not-found = 服务器上没有这个地址
srv-method-not-allowed = 服务器不接受这种请求方式
srv-body-timeout = 请求内容传送超时
srv-device-exists = 这台设备已注册过
srv-blob-not-found = 服务器上没有这张照片，或你无权查看
srv-payload-too-large = 请求的内容太大
srv-too-many-ops = 一次上传的修改太多
srv-too-many-values = 一次上传的数据项太多
srv-unsupported-media-type = 请求的内容类型不对
srv-rate-limited = 请求过于频繁
srv-storage-error = 服务器无法读写它的数据库（未做任何修改）
srv-busy = 服务器忙：请稍后再试
srv-too-many-connections = 服务器连接已满：请稍后再试
srv-not-ready = 服务器尚未就绪
srv-bad-hash = 照片的校验值格式不对
srv-bad-upload-header = 照片上传的位置或长度信息缺失或有误
srv-beyond-upload-length = 上传的内容超出了照片的长度
srv-offset-mismatch = 照片上传的位置与服务器不一致：将从服务器记录的位置续传
srv-blob-too-large = 照片太大
srv-chunk-too-large = 一次上传的照片数据太大
srv-bad-content-type = 照片上传的内容类型不对
srv-hash-mismatch = 照片内容与校验值不符：须从头重新上传
srv-upload-quota = 本设备今天的上传量已满：明天再传
srv-blob-store-unavailable = 照片存储暂时不可用：请稍后再试
srv-internal-error = 服务器内部出错
srv-unknown = 服务器出错

## `--help`: every command's and flag's description (`help-` and the command's path, `--` and the flag's id; ADR 0039's addendum)

help-gridwork = `gridwork` 命令：在终端上使用的 gridwork 设备，以及 `gridwork demo` 演示
help-gridwork--store = 设备的本机数据库（SQLite 文件；首次使用时创建）
help-gridwork--key_file = 本机数据库的加密密钥：一个含 64 位十六进制数字的文件（用 `gridwork device new-key` 生成）。带密钥打开的新数据库会加密创建；加密的数据库只能用它的密钥打开。密钥只从文件读取，从不取自命令行或环境变量，因此不会留在命令历史和进程列表中
help-gridwork--json = 以 JSON 输出列表和结果
help-gridwork--log = 按此级别（error、warn、info、debug、trace）把日志写到标准错误；默认不写日志。日志从不含姓名、电话或身份证号
help-gridwork--lang = 状态、表头和消息的语言：zh（中文，默认）或 en。`--json` 在两种语言下都输出稳定代码
help-gridwork-demo = 用内置的默认数据运行整个系统：一个同步服务器、五部设备和一天的现场工作，然后展示数据收敛、冲突、在办案件和工作简报
help-gridwork-demo--seed = 使运行可重复：同一种子，同一街道、同一天
help-gridwork-demo--data_dir = 把服务器和设备的数据库保存在这里，而不是临时文件夹
help-gridwork-device = 注册本设备，或查看其状态
help-gridwork-device-enroll = 用管理员给的一次性注册码注册
help-gridwork-device-enroll--server = 同步服务器的地址（https://… 或 http://…）
help-gridwork-device-enroll--code = 一次性注册码
help-gridwork-device-enroll--name = 本设备的名称（管理员看到的）
help-gridwork-device-enroll--ca_cert = 使用私有 CA 的 https:// 服务器的 CA 证书（PEM 文件）；设备会保存它，此后除公共根证书外也信任它
help-gridwork-device-status = 本设备：编号、用户、服务器、待上传的修改、同步状态
help-gridwork-device-retention = 已退租租客的个人数据在本设备上保留多久（街道的规定）；给出 `--days` 时设定新期限，并立即清除超出新期限的数据
help-gridwork-device-retention--days = 退租后的天数（0 至 3650；默认 90 天）
help-gridwork-device-new-key = 把一个新的随机加密密钥写入文件（仅所有者可读），供 `--key-file` 使用
help-gridwork-device-new-key--out = 写入密钥的文件（不能已存在）
help-gridwork-device-export-unsynced = 把服务器尚未接受的每条修改写入文件（每行一个 JSON）。本机数据库损坏时也能用（读取副本，不做任何修改）
help-gridwork-device-export-unsynced--out = 写入修改的文件
help-gridwork-device-recover = 恢复损坏的本机数据库：把原文件移到一旁（从不删除），保留仍可读取的每条未上传修改（写入新数据库和导出文件），其余数据由下次同步从服务器重新获取
help-gridwork-device-recover--export = 导出文件的位置（默认：本机数据库旁，以时间命名）
help-gridwork-sync = 上传本机的修改并下载他人的修改（可等待新数据，最多 30 秒）
help-gridwork-sync--wait = 等待服务器新数据的秒数（0 至 30）
help-gridwork-area = 区域：从区县到微网格
help-gridwork-area-list = 某个上级区域下的区域（不给上级时列出区县）
help-gridwork-area-list--parent = 上级区域：编码或编号
help-gridwork-area-show = 一个区域（按编码或编号），及其现行的响应时限
help-gridwork-area-show--id = 区域：编码或编号
help-gridwork-area-create = 在某区域下新建区域（重划网格时的新网格；管理员的操作，同服务器的 area create）；输出其编号
help-gridwork-area-create--code = 区域编码（网格：所在社区的 12 位再加 3 位）
help-gridwork-area-create--name = 区域名称
help-gridwork-area-create--level = 区 district、街道 subdistrict、网层 grid_layer、社区 community、网格 grid、微网格 micro_grid
help-gridwork-area-create--parent = 上级区域：编码或编号（区县没有）
help-gridwork-area-rename = 给区域改名（管理员的操作，同服务器的 area rename）
help-gridwork-area-rename--id = 区域：编码或编号
help-gridwork-area-rename--name = 新的名称
help-gridwork-area-policy = 街道对火警和事件的响应时限：不带选项时显示历史；带 `--preset` 和/或分钟数时，从现在起设定新的时限（管理员的操作：服务器拒绝其他人的设定；此前发起的事件沿用原时限）
help-gridwork-area-policy--area = 街道：区域编码或编号
help-gridwork-area-policy--preset = `1-3-10`（全市的）或 `wulin`（1/5/30）；下面的分钟数可修改它
help-gridwork-area-policy--name = 时限的名称（默认：预设的名称；修改了分钟数时为 `custom`）
help-gridwork-area-policy--receive = 接收的分钟数
help-gridwork-area-policy--respond = 响应的分钟数
help-gridwork-area-policy--on_scene = 到达现场的分钟数
help-gridwork-area-policy--report_back = 反馈的分钟数
help-gridwork-area-policy--fire_arrival = 消防队到达现场的分钟数（五分钟救援圈）
help-gridwork-building = 区域内的楼栋
help-gridwork-building-list = 任一层级区域内的楼栋
help-gridwork-building-list--area = 区域：编码或编号
help-gridwork-building-add = 在网格中添加楼栋（你网格内的新楼栋）；输出其编号
help-gridwork-building-add--grid = 网格：编码或编号
help-gridwork-building-add--micro_grid = 该网格下的微网格：编码或编号
help-gridwork-building-add--address_code = 统一地址编码（19 位，以网格编码开头）
help-gridwork-building-add--address = 通常说法的地址（如 梅花碑社区 3 幢）
help-gridwork-building-add--kind = 楼栋类型：residential（住宅）等
help-gridwork-building-add--station = 所属微型消防站（见 `gridwork station list`）
help-gridwork-building-add--lat = 纬度（度）
help-gridwork-building-add--lon = 经度（度）
help-gridwork-building-edit = 修改楼栋的类型、楼长、地址、微型消防站、微网格或位置（所属网格用服务器的 `area move-buildings` 更改）
help-gridwork-building-edit--id = 楼栋：统一地址编码或编号
help-gridwork-building-edit--kind = 楼栋的新类型
help-gridwork-building-edit--head = 楼长的用户编号
help-gridwork-building-edit--address = 通常说法的地址
help-gridwork-building-edit--station = 所属微型消防站（见 `gridwork station list`）
help-gridwork-building-edit--micro_grid = 所在网格下的微网格：编码或编号
help-gridwork-building-edit--lat = 纬度（度）
help-gridwork-building-edit--lon = 经度（度）
help-gridwork-household = 住户：添加、修改、归档、列出
help-gridwork-household-list = 一幢楼栋的住户
help-gridwork-household-list--building = 楼栋：统一地址编码或编号
help-gridwork-household-list--archived = 包括已迁出的住户
help-gridwork-household-add = 在楼栋中添加住户；输出其编号
help-gridwork-household-add--building = 楼栋：统一地址编码或编号
help-gridwork-household-add--unit = 单元房号（如 2-301）
help-gridwork-household-add--kind = 住户类型：owner_occupied（自住）、rental（出租）等
help-gridwork-household-add--phone = 住户的电话
help-gridwork-household-edit = 修改住户的单元、类型或电话
help-gridwork-household-edit--id = 住户编号
help-gridwork-household-edit--unit = 新的单元房号
help-gridwork-household-edit--kind = 新的类型
help-gridwork-household-edit--phone = 新的电话
help-gridwork-household-archive = 住户已迁出：归档而不删除
help-gridwork-household-archive--id = 住户编号
help-gridwork-resident = 居民：添加、修改、归档、列出（身份证号打码）
help-gridwork-resident-list = 一户住户的居民，身份证号打码
help-gridwork-resident-list--household = 住户：楼栋地址编码加单元（如 `3301050120010010001/2-301`），或住户编号
help-gridwork-resident-show = 一名居民；有权查看的角色可见完整身份证号
help-gridwork-resident-show--id = 居民编号
help-gridwork-resident-add = 在住户中添加居民；输出其编号
help-gridwork-resident-add--household = 住户：楼栋地址编码加单元（如 `3301050120010010001/2-301`），或住户编号
help-gridwork-resident-add--name = 居民姓名
help-gridwork-resident-add--id_number = 居民的身份证号（18 位）
help-gridwork-resident-add--phone = 居民的电话
help-gridwork-resident-add--key_groups = 重点人群类别，用逗号分隔
help-gridwork-resident-edit = 修改居民的姓名、电话、身份证号、重点人群类别或所住房间
help-gridwork-resident-edit--id = 居民编号
help-gridwork-resident-edit--name = 新的姓名
help-gridwork-resident-edit--phone = 新的电话
help-gridwork-resident-edit--id_number = 居民的身份证号（18 位），补录或更正
help-gridwork-resident-edit--key_groups = 今后的重点人群类别（独居老人、留守儿童、残疾人），用逗号分隔；`--key-group ""` 清空
help-gridwork-resident-edit--household = 搬入的房间：楼栋地址编码加单元，或住户编号
help-gridwork-resident-archive = 居民已迁出：归档而不删除
help-gridwork-resident-archive--id = 居民编号
help-gridwork-tenant = 租住登记（像酒店一样入住和退租）
help-gridwork-tenant-check-in = 登记租客入住（该居民须已登记在这户住户中）
help-gridwork-tenant-check-in--resident = 租客的居民编号
help-gridwork-tenant-check-in--household = 住户：楼栋地址编码加单元（如 `3301050120010010001/2-301`），或住户编号
help-gridwork-tenant-check-in--from = 默认：今天
help-gridwork-tenant-check-in--until = 预计租住的最后一天
help-gridwork-tenant-check-out = 登记租客退租
help-gridwork-tenant-check-out--registration = 租住登记的编号
help-gridwork-tenant-check-out--on = 默认：今天
help-gridwork-tenant-list = 一名居民的租住记录
help-gridwork-tenant-list--resident = 居民编号
help-gridwork-tenant-rate = 区域及其网格、楼栋按人（人房匹配）和按间的登记率
help-gridwork-tenant-rate--area = 区域：编码或编号
help-gridwork-tenant-rooms = 区域内仍有人未登记的在租房间
help-gridwork-tenant-rooms--area = 区域：编码或编号
help-gridwork-tenant-unregistered = 区域内住在出租房却未登记的人（身份证号打码）
help-gridwork-tenant-unregistered--area = 区域：编码或编号
help-gridwork-tenant-expiring = 区域内若干天内到期的租住（到期提醒）
help-gridwork-tenant-expiring--area = 区域：编码或编号
help-gridwork-tenant-expiring--days = 在这么多天之内
help-gridwork-tenant-overdue = 区域内已过预计到期日却未退租的租住
help-gridwork-tenant-overdue--area = 区域：编码或编号
help-gridwork-hazard = 上报隐患
help-gridwork-hazard-report = 上报某楼栋的隐患；输出其编号
help-gridwork-hazard-report--building = 楼栋：统一地址编码或编号
help-gridwork-hazard-report--title = 隐患内容（如 电动车楼道充电）
help-gridwork-hazard-report--category = 隐患类别（如 fire）
help-gridwork-hazard-report--severity = low、medium、high 或 critical
help-gridwork-dispute = 登记矛盾纠纷
help-gridwork-dispute-log = 在网格中登记矛盾纠纷；输出其编号
help-gridwork-dispute-log--area = 纠纷所在的网格（或微网格）：区域编码或编号
help-gridwork-dispute-log--title = 纠纷内容
help-gridwork-dispute-log--category = 纠纷类别（如 neighbours）
help-gridwork-dispute-log--severity = low/medium：小事（当天化解）；high/critical：大事
help-gridwork-alarm = 发起火警；消防队确认接收、出发、到场
help-gridwork-alarm-raise = 在某楼栋发起火警；派发至该楼栋的微型消防站
help-gridwork-alarm-raise--building = 楼栋：统一地址编码或编号
help-gridwork-alarm-raise--title = 起火情况和位置
help-gridwork-alarm-acknowledge = 消防队已接收火警
help-gridwork-alarm-acknowledge--case = 火警的案件编号
help-gridwork-alarm-en-route = 消防队从所在位置出发
help-gridwork-alarm-en-route--case = 火警的案件编号
help-gridwork-alarm-en-route--lat = 消防队所在位置：纬度
help-gridwork-alarm-en-route--lon = 消防队所在位置：经度
help-gridwork-alarm-arrive = 消防队在所在位置确认到达现场
help-gridwork-alarm-arrive--case = 火警的案件编号
help-gridwork-alarm-arrive--lat = 消防队所在位置：纬度
help-gridwork-alarm-arrive--lon = 消防队所在位置：经度
help-gridwork-hotline = 接收 12345 热线工单（签收，审核交办给指定的人）
help-gridwork-hotline-open = 从 12345 平台接收工单；给出 `--assignee` 时签收并审核交办给该用户
help-gridwork-hotline-open--area = 诉求所在的网格（默认：楼栋所在网格）
help-gridwork-hotline-open--building = 楼栋：统一地址编码或编号
help-gridwork-hotline-open--title = 来电诉求
help-gridwork-hotline-open--category = 诉求类别
help-gridwork-hotline-open--severity = low、medium、high 或 critical
help-gridwork-hotline-open--assignee = 办理该工单的用户（审核办理）
help-gridwork-hotline-open--due = 平台设定的办理期限：该日结束时（本地时间）
help-gridwork-incident = 发起事件（110 非警务警情、现场纠纷等），按分钟级响应时限派单
help-gridwork-incident-raise = 发起事件；给出 `--responder` 时派单给该用户
help-gridwork-incident-raise--area = 事件所在的网格（默认：楼栋所在网格）
help-gridwork-incident-raise--building = 楼栋：统一地址编码或编号
help-gridwork-incident-raise--title = 事件内容
help-gridwork-incident-raise--category = 如 `police_110`、`grid_event`、`dispute_at_scene`
help-gridwork-incident-raise--severity = low、medium、high 或 critical
help-gridwork-incident-raise--responder = 派单给的用户
help-gridwork-case = 案件：按紧急程度列出在办案件、查看时间线、记录步骤
help-gridwork-case-list = 在办案件，最紧急的在前（红、黄、绿）
help-gridwork-case-list--area = 只列此区域内的案件（编码或编号）
help-gridwork-case-list--kind = 只列这一类案件
help-gridwork-case-list--mine = 只列等你处理的案件（交办给你的、派给你所在站的）
help-gridwork-case-show = 一个案件及其时间线
help-gridwork-case-show--id = 案件编号
help-gridwork-case-act = 记录一个流程步骤：accept（签收）、review-assign（审核交办）、handle（办理）、completion-review（办结审核）、send-back（退回）、call-back（回访）、close（办结）、dispatch（派出）、acknowledge（接收）、en-route（出发）、arrive（到场）、resolve（处置完毕）、review（复核）、assign（交办）、fix（整改）、recheck-pass / recheck-fail（复查通过 / 不通过）、mediate（调解）、escalate（上交）、settle（化解）、not-settled（未化解）、note（备注）、photo（拍照）
help-gridwork-case-act--id = 案件编号
help-gridwork-case-act--action = 步骤（见上）
help-gridwork-case-act--level = mediate/escalate/settle/not-settled 所在的防线层级
help-gridwork-case-act--text = 理由（send-back、escalate、not-settled）、协议（settle）或备注内容
help-gridwork-case-act--station = dispatch 派往的消防站
help-gridwork-case-act--assignee = review-assign 和 assign 的承办人（事件的处置人）
help-gridwork-case-act--due = review-assign 和 assign 的期限：该日结束时（本地时间）
help-gridwork-case-act--satisfied = 回访时居民的答复：yes（满意）或 no（不满意）
help-gridwork-case-act--lat = en-route 和 arrive 时消防队或处置人所在位置（纬度）
help-gridwork-case-act--lon = en-route 和 arrive 时消防队或处置人所在位置（经度）
help-gridwork-case-act--photo = `photo` 步骤的照片（JPEG 或 PNG）；与其他步骤一起给出时，在该步骤后记录一个拍照步骤（整改前后：`fix --photo after.jpg`）
help-gridwork-attachment = 案件照片：列出案件的照片及上传情况、保存到文件、上传排队中的照片、设定何时上传
help-gridwork-attachment-list = 案件的照片：每张图片和缩略图、大小，以及上传进度（本机拍的）或是否已在本机（他人拍的）
help-gridwork-attachment-list--case = 案件编号
help-gridwork-attachment-get = 把图片或缩略图写入新文件：取自本机，否则从服务器获取（按校验值核对）
help-gridwork-attachment-get--hash = 图片或缩略图的校验值
help-gridwork-attachment-get--out = 要写入的新文件
help-gridwork-attachment-upload = 上传排队中的照片（从服务器已收到的位置续传）
help-gridwork-attachment-upload--unmetered = 网络不计流量（Wi-Fi）：`unmetered` 策略下的照片也上传
help-gridwork-attachment-policy = 照片何时上传：any（任何网络）、unmetered（仅 Wi-Fi）、paused（暂停）
help-gridwork-attachment-policy--policy = any、unmetered 或 paused
help-gridwork-patrol = 巡查：开始巡查、在楼栋打卡、上报发现、结束、查看
help-gridwork-patrol-start = 现在开始巡查一个区域（你的网格）；输出巡查编号
help-gridwork-patrol-start--area = 区域：编码或编号
help-gridwork-patrol-visit = 巡查中在楼栋打卡
help-gridwork-patrol-visit--patrol = 巡查编号
help-gridwork-patrol-visit--building = 楼栋：统一地址编码或编号
help-gridwork-patrol-visit--note = 打卡备注
help-gridwork-patrol-visit--lat = 你所在位置：纬度
help-gridwork-patrol-visit--lon = 你所在位置：经度
help-gridwork-patrol-finding = 上报巡查中在楼栋发现的问题：隐患或巡查发现
help-gridwork-patrol-finding--patrol = 巡查编号
help-gridwork-patrol-finding--building = 楼栋：统一地址编码或编号
help-gridwork-patrol-finding--title = 发现的问题
help-gridwork-patrol-finding--kind = hazard（隐患）或 patrol_finding（巡查发现）
help-gridwork-patrol-finding--category = 发现的类别
help-gridwork-patrol-finding--severity = low、medium、high 或 critical
help-gridwork-patrol-end = 现在结束巡查
help-gridwork-patrol-end--patrol = 巡查编号
help-gridwork-patrol-show = 一次巡查及其打卡和发现
help-gridwork-patrol-show--patrol = 巡查编号
help-gridwork-key-group = 重点人群：记录走访，列出走访逾期的居民
help-gridwork-key-group-visit = 现在记录一次对重点人群居民的走访
help-gridwork-key-group-visit--resident = 居民编号
help-gridwork-key-group-overdue = 区域内走访逾期的重点人群居民，逾期最久的在前
help-gridwork-key-group-overdue--area = 区域：编码或编号
help-gridwork-station = 本设备上的微型消防站
help-gridwork-station-list = 本设备上的全部微型消防站
help-gridwork-station-add = 添加服务某区域的微型消防站（调度员或管理员的操作）；输出其编号
help-gridwork-station-add--area = 它服务的区域（社区或街道）：编码或编号
help-gridwork-station-add--name = 消防站名称
help-gridwork-station-add--lat = 纬度（度）
help-gridwork-station-add--lon = 经度（度）
help-gridwork-station-add--phone = 值班电话
help-gridwork-search = 搜索姓名、地址、电话和案件标题
help-gridwork-search--query = 要搜索的词
help-gridwork-search--limit = 最多这么多条结果
help-gridwork-conflicts = 你被同时修改覆盖的值，以及被标记的案件步骤
help-gridwork-conflicts-list = 你的全部冲突
help-gridwork-conflicts-reapply = 重新写入你被覆盖的值
help-gridwork-conflicts-reapply--id = 冲突编号
help-gridwork-conflicts-dismiss = 接受胜出的值
help-gridwork-conflicts-dismiss--id = 冲突编号
help-gridwork-refused = 服务器拒绝的你的修改（记录已恢复为服务器的值）：列出及原因、放弃，或作为新修改重做
help-gridwork-refused-list = 全部被拒的修改，最早的在前，附拒绝原因
help-gridwork-refused-discard = 永久放弃一条被拒的修改（记录保持服务器的值）
help-gridwork-refused-discard--id = 被拒修改的编号
help-gridwork-refused-redo = 把被拒的修改作为新修改重做，像其他修改一样接受检查
help-gridwork-refused-redo--id = 被拒修改的编号
help-gridwork-brief = 区域的工作简报
help-gridwork-brief--area = 区域：编码或编号
help-gridwork-brief--week_start = 该周的第一天，须是周一（默认：上一个周一至周日，即周二例会回顾的那一周）
help-gridwork-soak = 用于崩溃测试：不停地写入和同步，每步前后输出一行 JSON，直到被终止（见 `commands/soak.rs`）
help-gridwork-soak--area = 在其楼栋中添加住户和隐患的网格
help-gridwork-soak--tag = 本设备的标记，1 到 9 的一位数字：它添加的住户单元以此开头，电话号码以 `13` 加此数字开头；它只修改自己添加的住户
help-gridwork-soak--seed = 使各次运行的值不重复（小于 1000），并决定随机的步骤
help-gridwork-server = gridwork 同步服务器
help-gridwork-server--lang = 输出给人看的内容的语言：zh（中文，默认）或 en（ADR 0024）
help-gridwork-server-serve = 提供同步协议服务
    .long =
        提供同步协议服务。

        给出 --tls-cert 和 --tls-key 时，该端口只提供 HTTPS（rustls；TLS 1.2 和 1.3）；
        不给时提供明文 HTTP，只能用于本机回环或放在终止 TLS 的代理之后：
        令牌和居民数据绝不能以明文穿过网络。

        每个经过认证的请求从其设备的令牌桶中取一个令牌，每次注册尝试从其客户端地址的令牌桶中取一个；
        桶空时回答 429 并附 Retry-After。每分钟限额设为 0 即关闭该限制。
help-gridwork-server-serve--config = 参数的 TOML 文件（如 `listen = "10.0.0.11:8080"`、`trusted-proxy = ["10.0.0.0/24"]`）：命令行或环境变量中的参数优先于文件
help-gridwork-server-serve--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-serve--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-serve--listen = 监听地址；端口 0 表示自动选一个空闲端口（会输出实际地址）
help-gridwork-server-serve--tls_cert = 服务器证书（其后可接中间证书）的 PEM 文件；须同时给出 --tls-key
help-gridwork-server-serve--tls_key = 证书私钥的 PEM 文件（PKCS#8、PKCS#1 或 SEC1）
help-gridwork-server-serve--device_burst = 一部设备空闲一段时间后可一次发出的请求数
help-gridwork-server-serve--device_per_minute = 一部设备长期每分钟可发出的请求数（0：不限）
help-gridwork-server-serve--enroll_burst = 一个客户端地址可一次尝试注册的次数
help-gridwork-server-serve--enroll_per_minute = 每个客户端地址长期每分钟可尝试注册的次数（0：不限）
help-gridwork-server-serve--trusted_proxy = 反向代理（地址或 CIDR 网段），其 X-Forwarded-For 标明客户端；多个时重复此参数（或用逗号分隔）。默认没有：连接的对端即客户端
help-gridwork-server-serve--callback_allow = 服务账号的回调可以访问的非公网网段（CIDR，可重复或用逗号分隔）：如政务网内的平台 `10.20.0.0/16`。不给时，解析到回环、私有、链路本地（云元数据）或其他非公网地址的回调 URL 在注册和每次投递时都会被拒绝（ADR 0030）
help-gridwork-server-serve--max_connections = 同时服务的连接数；再多一个即得到 503 too_many_connections。默认：文件描述符上限所允许的数（其一半减 64），最多 10,000
help-gridwork-server-serve--header_read_timeout = 连接发送完整请求头的时限（秒），也是两次请求之间可空闲的时长；超时即关闭
help-gridwork-server-serve--body_timeout = 请求体停止发送多少秒后放弃（408）
help-gridwork-server-serve--write_timeout = 客户端多少秒不接收答复数据后关闭其连接
help-gridwork-server-serve--metrics_listen = 在 http://ADDR/metrics 提供 Prometheus 指标（请放在内网地址上；会输出实际地址）。不给则不提供指标
help-gridwork-server-serve--log_format = 日志为文本，或每行一个 JSON 对象（供日志采集器使用）
help-gridwork-server-serve--blob_store = 照片存放处：`s3://BUCKET`（兼容 S3 的存储，由 AWS_ENDPOINT、AWS_ACCESS_KEY_ID、AWS_SECRET_ACCESS_KEY、AWS_REGION、AWS_ALLOW_HTTP 配置；适合多个服务器进程）或文件夹（`file:///PATH` 或路径）。默认：SQLite 数据库旁的 `photos` 文件夹；用 PostgreSQL 时为当前文件夹下的 `gridwork-photos`
help-gridwork-server-serve--blob_grace_days = 没有案件步骤引用的已上传照片保留多少天后被清理删除
help-gridwork-server-serve--blob_max_mib = 接受的最大照片（MiB）
help-gridwork-server-serve--blob_daily_mib = 一部设备每个 UTC 日可上传的照片量（MiB）
help-gridwork-server-serve--blob_sweep_minutes = 两次清理无引用照片之间的分钟数（0：从不；`blobs gc` 可按需清理）
help-gridwork-server-blobs = 照片文件：`blobs gc` 删除没有案件步骤引用（且超过保留期）的照片，以及一天未动的未完成上传
help-gridwork-server-blobs-gc = 现在删除无引用的照片和过期的未完成上传；输出删除了什么
help-gridwork-server-blobs-gc--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-blobs-gc--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-blobs-gc--blob_store = 照片存放处：`s3://BUCKET`（兼容 S3 的存储，由 AWS_ENDPOINT、AWS_ACCESS_KEY_ID、AWS_SECRET_ACCESS_KEY、AWS_REGION、AWS_ALLOW_HTTP 配置；适合多个服务器进程）或文件夹（`file:///PATH` 或路径）。默认：SQLite 数据库旁的 `photos` 文件夹；用 PostgreSQL 时为当前文件夹下的 `gridwork-photos`
help-gridwork-server-blobs-gc--blob_grace_days = 没有案件步骤引用的已上传照片保留多少天后被清理删除
help-gridwork-server-import = 从 CSV 或 XLSX 文件导入街道的基础数据（见 docs/import.md）
    .long =
        从 CSV 或 XLSX 文件导入街道的基础数据（见 docs/import.md）。

        给出文件或文件夹；每个文件（或工作簿的每个工作表）以其类别命名：
        区域、消防站、楼栋、房屋、居民、用户（英文名 areas、stations、buildings、households、residents、users 也可）。
        每一行都会检查；被拒绝的行逐条列出（文件、行、列、原因），其余的写入。
        改正后再次导入同一文件，只改动有变化的部分。有行被拒绝时退出码为 1。
help-gridwork-server-import--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-import--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-import--paths = 要导入的文件，或文件所在的文件夹
help-gridwork-server-import--dry_run = 检查每一行并说明将有何变化，但不写入任何数据
help-gridwork-server-import--report = 同时把被拒绝的行写入此 CSV 文件（文件,行,字段,原因）
help-gridwork-server-sample = 按导入模板写出一个虚构街道的文件（README 的样例是 `sample samples/xiangfu`；`--residents 250000` 生成基准测试用的数据）
help-gridwork-server-sample--dir = 写入文件的文件夹
help-gridwork-server-sample--residents = 大约多少名居民（默认：README 的小样例）
help-gridwork-server-sample--seed = 使生成的文件可重复：同一种子，同一街道
help-gridwork-server-area = 区域和网格：列出、新建、改名、撤销，在网格间移动楼栋
help-gridwork-server-area-list = 以树状列出区域，及各区域内的楼栋、住户和居民数
help-gridwork-server-area-list--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-area-list--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-area-list--json = 每个区域一个 JSON 对象
help-gridwork-server-area-create = 在某区域下新建区域（重划网格时的新网格）
help-gridwork-server-area-create--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-area-create--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-area-create--code = 区域编码（网格：所在社区的 12 位再加 3 位）
help-gridwork-server-area-create--name = 区域名称
help-gridwork-server-area-create--level = 区 district、街道 subdistrict、网层 grid_layer、社区 community、网格 grid、微网格 micro_grid
help-gridwork-server-area-create--parent = 上级区域的编码（区县没有）
help-gridwork-server-area-rename = 给区域改名
help-gridwork-server-area-rename--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-area-rename--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-area-rename--area = 区域编码
help-gridwork-server-area-rename--name = 新的名称
help-gridwork-server-area-retire = 撤销一个已清空的区域（其下没有区域、楼栋、消防站或用户范围）
help-gridwork-server-area-retire--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-area-retire--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-area-retire--area = 区域编码
help-gridwork-server-area-move-buildings = 把楼栋移入另一个网格；其住户、居民和案件随之移动，各手机也随之更新（原网格的手机删去它们，新网格的手机收到它们）
help-gridwork-server-area-move-buildings--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-area-move-buildings--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-area-move-buildings--to = 网格编码
help-gridwork-server-area-move-buildings--micro_grid = 该网格下的微网格
help-gridwork-server-area-move-buildings--building = 楼栋的统一地址编码（或编号）；多个时重复此参数或用逗号分隔
help-gridwork-server-area-move-buildings--prefix = 地址编码以这些数字开头的全部楼栋
help-gridwork-server-admin = 管理用户和设备
help-gridwork-server-admin-create-user = 新建用户；输出新用户的编号
help-gridwork-server-admin-create-user--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-admin-create-user--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-admin-create-user--name = 用户姓名
help-gridwork-server-admin-create-user--role = 网格员 gridworker、楼长 building_head、消防队员 fire_crew、调度员 dispatcher、调解员 mediator 或 管理员 admin
help-gridwork-server-admin-create-user--scope = 用户的工作范围，用逗号分隔：区域编码（楼长：地址编码；消防队：消防站名称），或编号。每项都须已存在
help-gridwork-server-admin-set-scope = 替换用户的范围（网格重划、换楼栋）：其设备在下次同步时采用新范围，并清除不再可持有的数据
help-gridwork-server-admin-set-scope--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-admin-set-scope--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-admin-set-scope--user = 用户编号
help-gridwork-server-admin-set-scope--scope = 新的范围，用逗号分隔，同 create-user（空：无范围，管理员除外）
help-gridwork-server-admin-enrollment-code = 为用户生成一次性注册码（24 小时有效）并输出
help-gridwork-server-admin-enrollment-code--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-admin-enrollment-code--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-admin-enrollment-code--user = 用户：编号，或（没有重名时）姓名
help-gridwork-server-admin-revoke-device = 吊销设备：它的下一个请求即被拒绝
help-gridwork-server-admin-revoke-device--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-admin-revoke-device--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-admin-revoke-device--device = 设备编号
help-gridwork-server-admin-list-devices = 列出已注册的设备
help-gridwork-server-admin-list-devices--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-admin-list-devices--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-admin-create-service-account = 为发送工单的系统（12345 平台、110 联动）新建服务账号，限定于一个区域；输出其编号和令牌（令牌只在此显示一次）
help-gridwork-server-admin-create-service-account--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-admin-create-service-account--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-admin-create-service-account--name = 系统的名称，如“12345 热线平台”
help-gridwork-server-admin-create-service-account--area = 它可派入工单的区域（街道、社区、网格）的编号
help-gridwork-server-admin-revoke-service-account = 吊销服务账号：从下一个请求起拒绝其令牌
help-gridwork-server-admin-revoke-service-account--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-admin-revoke-service-account--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-admin-revoke-service-account--account = 服务账号编号
help-gridwork-server-admin-list-service-accounts = 列出服务账号：编号、状态、区域、回调 URL、名称
help-gridwork-server-admin-list-service-accounts--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-admin-list-service-accounts--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-admin-console-password = 设置调度员或管理员登录网页控制台（/console）的密码，从标准输入读取（一行，至少 10 个字符）；并结束其现有会话
help-gridwork-server-admin-console-password--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-admin-console-password--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-admin-console-password--user = 用户：编号，或（没有重名时）姓名
help-gridwork-server-audit = 查看和核验审计日志（谁看过完整身份证号、导出、管理操作、被拒的访问）
help-gridwork-server-audit-verify = 核验整条链：若有条目被删除或篡改，报错并指出第一条；否则输出条目数和链头哈希（请另行记下：日志日后被截短时就不再以它结尾）
help-gridwork-server-audit-verify--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-audit-verify--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-audit-verify--expect_head = 此前记下的链头哈希：日志中不再含有它时也报错
help-gridwork-server-audit-patrols = 核验每次巡查的打卡链：输出事后被删除、插入或倒填打卡的巡查（并报错），或通过核验的数量
help-gridwork-server-audit-patrols--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-audit-patrols--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-audit-list = 列出条目，最早的在前：序号、时间、操作者、操作、记录、原因
help-gridwork-server-audit-list--db = SQLite 数据库文件（不存在时创建）：默认，适合单个服务器进程
help-gridwork-server-audit-list--database = PostgreSQL 数据库，postgres://USER:PASSWORD@HOST:PORT/DATABASE（需要时自动迁移），可由多个服务器进程共用。未给出时读取 GRIDWORK_DATABASE_URL（这样密码不会出现在进程列表中）
help-gridwork-server-audit-list--resident = 关于此居民（或任一记录）编号的条目
help-gridwork-server-audit-list--actor = 此操作者的条目（用户、设备或服务账号的编号；管理命令为 `admin:`）
help-gridwork-server-audit-list--action = 条目类型：read_id_number、export、admin_change 或 refused
help-gridwork-server-audit-list--since = 此时间及之后的条目：纪元以来的毫秒数、日期（`2026-12-01`，北京时间）或 RFC 3339 时间
help-gridwork-server-audit-list--until = 此时间之前的条目（格式同 `--since`）
help-gridwork-server-audit-list--before = 此条目之前的一页：满页时给出的 `--before`
help-gridwork-server-audit-list--limit = 最多这么多条（所选中最新的），最早的在前
help-gridwork-server-audit-list--json = 每行一个 JSON 对象

# Record photos (building photo …, household photo …)
help-gridwork-building-photo = 楼栋的照片（堵塞的通道、发现的隐患）：添加、列出、删除
help-gridwork-building-photo-add = 添加一张照片（JPEG 或 PNG）：立即记录（离线也可），排队等待上传（`attachment upload`）
help-gridwork-building-photo-add--id = 楼栋（地址编码或 id）或住户（`编码/单元` 或 id）
help-gridwork-building-photo-add--photo = 图片文件（JPEG 或 PNG，最大 32 MiB）
help-gridwork-building-photo-list = 照片列表：每张图片及缩略图、大小，以及上传情况（本机拍的）或是否已在本机（他人拍的）
help-gridwork-building-photo-list--id = 楼栋（地址编码或 id）或住户（`编码/单元` 或 id）
help-gridwork-building-photo-remove = 删除一张照片，按图片的哈希值指定
help-gridwork-building-photo-remove--id = 楼栋（地址编码或 id）或住户（`编码/单元` 或 id）
help-gridwork-building-photo-remove--hash = 图片的哈希值（SHA-256，64 位十六进制），即 `photo list` 显示的值
help-gridwork-household-photo = 住户的照片（出租房间的状况）：添加、列出、删除
help-gridwork-household-photo-add = 添加一张照片（JPEG 或 PNG）：立即记录（离线也可），排队等待上传（`attachment upload`）
help-gridwork-household-photo-add--id = 楼栋（地址编码或 id）或住户（`编码/单元` 或 id）
help-gridwork-household-photo-add--photo = 图片文件（JPEG 或 PNG，最大 32 MiB）
help-gridwork-household-photo-list = 照片列表：每张图片及缩略图、大小，以及上传情况（本机拍的）或是否已在本机（他人拍的）
help-gridwork-household-photo-list--id = 楼栋（地址编码或 id）或住户（`编码/单元` 或 id）
help-gridwork-household-photo-remove = 删除一张照片，按图片的哈希值指定
help-gridwork-household-photo-remove--id = 楼栋（地址编码或 id）或住户（`编码/单元` 或 id）
help-gridwork-household-photo-remove--hash = 图片的哈希值（SHA-256，64 位十六进制），即 `photo list` 显示的值
