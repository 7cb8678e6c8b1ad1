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
err-unauthorized = 服务器不接受本设备的凭据（{ $detail }）：请重新注册
err-server = 服务器拒绝了请求：{ $status } { $code }（{ $detail }）
err-bad-answer = 无法读取服务器的答复（{ $detail }）
err-tls = 与服务器的安全连接失败（{ $detail }）：请检查服务器证书或 --ca-cert
err-rate-limited = 服务器要求等待 { $seconds } 秒后再试（{ $detail }）
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
cli-registration-rate = { $name }：按人 { $people }%（{ $registered }/{ $living }）· 按间 { $rooms }%（{ $registered_rooms }/{ $occupied }）
cli-registration-whole-area = 全区域
cli-building-added = 楼栋 { $address } 已添加：{ $id }
cli-station-added = 微型消防站 { $name } 已添加：{ $id }
cli-available-steps = 可做的步骤：{ $steps }
server-cannot-listen = 无法在 { $addr } 监听：{ $reason }
server-tls-certificate = 无法读取证书文件（{ $detail }）
server-tls-no-certificate = 证书文件中没有 PEM 证书
server-tls-key = 无法读取私钥文件（PEM、PKCS#8、PKCS#1 或 SEC1）（{ $detail }）
server-tls-rustls = 证书和私钥无法组成 TLS 配置（{ $detail }）

## 权限规则的原因（与服务器拒绝修改时给出的原因相同）

deny-outside = 该{ $kind }不在{ $whose }内
deny-role-kind = { $role }不能修改{ $kind }
deny-no-delete = { $role }不能删除记录（请改为归档）
deny-whose-your-grid-s = 你的网格范围
deny-whose-your-building-s = 你的楼栋范围
deny-whose-your-subdistrict = 你的街道范围
deny-whose-your-areas = 你的区域范围
deny-role-gridworker = 网格员
deny-role-building-head = 楼长
deny-role-fire-crew = 消防队员
deny-role-dispatcher = 调度员
deny-role-mediator = 调解员
deny-role-admin = 管理员
deny-areas-are-managed-by-an-admin = 区域由管理员管理
deny-a-building-head-may-report-hazards-not-other-cases = 楼长只能上报隐患，不能上报其他案件
deny-a-fire-crew-only-adds-steps-to-the-alarms-dispatched-to-its-station = 消防队员只能为派给本站的火警记录步骤
deny-a-mediator-only-adds-steps-to-the-disputes-they-work = 调解员只能为自己处理的矛盾纠纷记录步骤
deny-a-building-head-may-add-notes-and-photos-but-not-change-a-case-s-status = 楼长可以添加备注和照片，但不能改变案件状态
deny-this-case-is-not-an-alarm-dispatched-to-your-station = 该案件不是派给本站的火警
deny-this-case-is-not-a-dispute-escalated-to-your-line-of-defence-in-your-area = 该案件不是上交到你所在层级、你所在区域的矛盾纠纷
deny-a-building-head-may-register-only-residents-of-its-own-building-s-households = 楼长只能为本楼栋住户的居民登记
