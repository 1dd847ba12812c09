"""Generates the SOP diagrams in this folder: `python bpmn/build.py`. See layout.py; the docs for each
SOP are in docs/sops/. Variables and operations are described there."""
from pathlib import Path

from layout import Diagram, external, form, message, script, spiff_operator, timer

HERE = Path(__file__).parent
TERMINATE = "<bpmn:terminateEventDefinition />"  # ends the whole instance: its other branches are cancelled
SURVEY = form(("csat", "满意度 CSAT (1-5)", "long", {"required": True, "min": 1, "max": 5}),
              ("nps", "推荐意愿 NPS (0-10)", "long", {"min": 0, "max": 10}),
              ("comment", "客户意见", "string", {"maxlength": 2000}))


def followup_task():
    d = Diagram("followup_task", "跟进任务 Follow-up task", lanes=[("Lane_sales", "sales"), ("Lane_supervisors", "supervisors")])
    d.add("startEvent", "start", "需要跟进", 0, body=form(
        ("title", "标题 Title", "string"), ("note", "说明 Note", "string"),
        ("assignee", "负责人 Assignee", "string"), ("customer_id", "客户编号 Customer id", "long"),
        ("kind", "类型 Kind", "string", {"default": "follow_up"}),
        ("due", "期限 Due (ISO duration)", "string", {"default": "P1D"})))
    d.add("userTask", "do_task", "跟进任务", 1, body=form(("result", "跟进结果", "string", {"required": True}),),
          **{"camunda:assignee": "${assignee}", "camunda:candidateGroups": "sales"})
    d.boundary("task_overdue", "do_task", "逾期", timer("timeDuration", "due"))
    d.add("endEvent", "done", "已跟进", 3)
    d.add("userTask", "supervisor_task", "主管处理逾期任务", 2, lane=1,
          body=form(("result", "处理结果", "string", {"required": True}),),
          **{"camunda:candidateGroups": "supervisors"})
    d.add("endEvent", "done_by_supervisor", "主管已处理", 3, lane=1)
    d.chain("start", "do_task", "done")
    d.chain("task_overdue", "supervisor_task", "done_by_supervisor")
    return d


def lead_assignment():
    d = Diagram("lead_assignment", "线索分配 Lead assignment",
                lanes=[("Lane_system", "system"), ("Lane_sales", "sales"), ("Lane_supervisors", "supervisors")])
    d.add("startEvent", "lead_created", "新线索", 0, body=form(
        ("lead_id", "线索编号 Lead id", "long", {"required": True}), ("region", "地区 Region", "string"),
        ("industry", "行业 Industry", "string"), ("source", "来源 Source", "string")))
    d.add("businessRuleTask", "route", "按地区/行业/来源路由", 1, **{"camunda:decisionRef": "lead_routing"})
    body, attrs = external("assign_lead", {"team": "team", "strategy": "strategy"},
                           {"agent": 'result["agent"]', "assign_reason": 'result["reason"]'})
    d.add("serviceTask", "assign", "分配坐席", 2, body=body, **attrs)
    d.add("exclusiveGateway", "assigned_gw", "有人可接?", 3)
    d.add("userTask", "assign_by_hand", "手动分配", 3, lane=2,
          body=form(("agent", "分配给(用户名)", "string", {"required": True, "user": True}),),
          **{"camunda:candidateGroups": "supervisors"})
    body, attrs = external("update_lead", {"owner": "agent", "team": "team"})
    d.add("serviceTask", "record_manual", "记录分配", 4, lane=2, body=body, **attrs)
    d.add("exclusiveGateway", "assigned_join", "", 5)
    d.add("userTask", "first_contact", "首次联系", 6, lane=1,
          body=form(("outcome", "联系结果", "enum", {"required": True, "values": [("reached", "已联系"), ("no_answer", "未接通")]}),
                    ("note", "备注", "string", {"maxlength": 500})),
          **{"camunda:assignee": "${agent}", "camunda:candidateGroups": "sales"})
    d.boundary("contact_overdue", "first_contact", "2个工作小时未联系", timer("timeDate", "working_hours_from_now(2)"))
    body, attrs = external("escalate", {"stage": "'首次联系'", "level": "0", "team": "team", "agent": "agent",
                                        "subject": "'线索分配'"}, {"handler": 'result["handler"]'})
    d.add("serviceTask", "escalate_contact", "升级至组长", 7, lane=2, body=body, **attrs)
    d.add("userTask", "lead_contact", "组长跟进首次联系", 8, lane=2,
          body=form(("outcome", "联系结果", "enum", {"required": True, "values": [("reached", "已联系"), ("no_answer", "未接通")]}),
                    ("note", "备注", "string", {"maxlength": 500})),
          **{"camunda:assignee": "${handler}", "camunda:candidateGroups": "supervisors"})
    d.add("exclusiveGateway", "contacted_join", "", 9)
    body, attrs = external("update_lead", {"status": "'contacted'"}, {"agent": 'result["owner"]'})
    d.add("serviceTask", "mark_contacted", "标记已联系", 10, body=body, **attrs)
    d.add("parallelGateway", "contacted_split", "", 11)
    d.add("userTask", "qualify", "资格确认", 12, lane=1,
          body=form(("qualified", "是否有效线索", "boolean", {"required": True}),
                    ("credit_code", "统一社会信用代码", "string", {"maxlength": 30}),
                    ("budget", "预算(元)", "long", {"min": 0}), ("note", "备注", "string", {"maxlength": 500})),
          **{"camunda:assignee": "${agent}", "camunda:candidateGroups": "sales"})
    d.boundary("qualify_due", "qualify", "3天未确认", timer("timeDuration", "P3D"), cancel=False, offset=0.5)
    body, attrs = external("notify", {"channel": "'supervisors'",
                                      "text": "f'【线索提醒】线索 {lead_id} 资格确认已超过3天，负责人 {agent}'"})
    d.add("serviceTask", "remind_qualify", "提醒资格确认", 12, lane=2, row=0.9, body=body, **attrs)
    d.add("endEvent", "reminded", "已提醒", 13, lane=2, row=0.9)
    d.add("exclusiveGateway", "qualified_gw", "有效?", 13, lane=1)
    body, attrs = external("update_lead", {"status": "'qualified'"})
    d.add("serviceTask", "mark_qualified", "标记有效", 14, lane=1, row=-0.45, body=body, **attrs)
    body, attrs = external("convert_lead", {"credit_code": "credit_code", "amount": "budget"},
                           {"customer_id": 'result["customer_id"]', "opportunity_id": 'result["opportunity_id"]',
                            "customer_linked": 'result["linked"]'})
    d.add("serviceTask", "convert", "转为客户和商机", 15, lane=1, row=-0.45, body=body, **attrs)
    body, attrs = external("update_lead", {"status": "'disqualified'"})
    d.add("serviceTask", "mark_disqualified", "标记无效", 14, lane=1, row=0.45, body=body, **attrs)
    d.add("endEvent", "qualified_end", "已转化", 16, lane=1, row=-0.45, body=TERMINATE)
    d.add("endEvent", "disqualified_end", "无效线索", 15, lane=1, row=0.45, body=TERMINATE)
    # the 30-day clock: runs beside qualification and starts over at every follow-up (lead_follow_up)
    d.add("exclusiveGateway", "follow_up_join", "", 12)
    body, attrs = external("lead_follow_up", {"days": "30"},
                           {"last_follow_up": 'result["last_follow_up"]', "follow_up_due": 'result["follow_up_due"]',
                            "follow_up_stale": 'result["stale"]'})
    d.add("serviceTask", "check_follow_up", "查最近跟进", 13, body=body, **attrs)
    d.add("exclusiveGateway", "stale_gw", "30天未跟进?", 14)
    d.add("intermediateCatchEvent", "follow_up_wait", "最近跟进后30天", 15, row=0.9, body=timer("timeDate", "follow_up_due"))
    body, attrs = external("return_to_pool", {"reason": "'30天未跟进'"})
    d.add("serviceTask", "back_to_pool", "退回公海", 15, body=body, **attrs)
    d.add("endEvent", "returned", "已退回公海", 16, body=TERMINATE)
    d.chain("lead_created", "route", "assign", "assigned_gw")
    d.flow("assigned_gw", "assigned_join", "已分配", "agent is not None")
    d.flow("assigned_gw", "assign_by_hand", "无人可接", "agent is None")
    d.chain("assign_by_hand", "record_manual", "assigned_join", "first_contact", "contacted_join", "mark_contacted",
            "contacted_split", "qualify", "qualified_gw")
    d.chain("contact_overdue", "escalate_contact", "lead_contact", "contacted_join")
    d.flow("qualified_gw", "mark_qualified", "有效", "qualified")
    d.flow("qualified_gw", "mark_disqualified", "无效", "not qualified")
    d.chain("mark_qualified", "convert", "qualified_end")
    d.chain("mark_disqualified", "disqualified_end")
    d.chain("qualify_due", "remind_qualify", "reminded")
    d.chain("contacted_split", "follow_up_join", "check_follow_up", "stale_gw")
    d.flow("stale_gw", "follow_up_wait", "有跟进", "not follow_up_stale")
    d.flow("stale_gw", "back_to_pool", "30天未跟进", "follow_up_stale")
    d.chain("follow_up_wait", "follow_up_join")
    d.chain("back_to_pool", "returned")
    return d


def _stage(d, name, label, col, deadline_kind, deadline, form_body, lane=1):
    """merge gateway -> user task (assignee ${handler}) with a deadline -> escalate -> back to the merge."""
    d.add("exclusiveGateway", f"{name}_join", "", col, lane=lane)
    d.add("userTask", name, label, col + 1, lane=lane, body=form_body,
          **{"camunda:assignee": "${handler}", "camunda:candidateGroups": "service, supervisors, managers"})
    d.boundary(f"{name}_late", name, f"{label}超时", timer(deadline_kind, deadline))
    body, attrs = external("escalate", {"stage": repr(label), "level": "level", "team": "team", "agent": "handler",
                                        "subject": "subject"},
                           {"level": 'result["level"]', "handler": 'result["handler"]'})
    d.add("serviceTask", f"{name}_escalate", "逐级升级并通知", col + 1, lane=2, body=body, **attrs)
    body, attrs = external("completed_by", {"fallback": "handler"}, {"handler": 'result["user"]'})
    d.add("serviceTask", f"{name}_taken", "记录经办人", col + 1, lane=lane, row=-0.9, body=body, **attrs)
    d.flow(name, f"{name}_taken")
    d.flow(f"{name}_join", name)
    d.flow(f"{name}_late", f"{name}_escalate")
    d.flow(f"{name}_escalate", f"{name}_join")


def complaint_escalation():
    d = Diagram("complaint_escalation", "投诉升级 Complaint escalation",
                lanes=[("Lane_system", "system"), ("Lane_service", "service"), ("Lane_escalation", "supervisors")])
    d.add("startEvent", "complaint_received", "收到投诉", 0, body=form(
        ("subject", "投诉内容 Subject", "string", {"required": True, "maxlength": 500}),
        ("severity", "严重程度 Severity", "enum", {"values": [("low", "低 low"), ("normal", "中 normal"),
                                                            ("high", "高 high")]})))
    body, attrs = external("open_ticket", {"kind": "'complaint'", "subject": "subject",
                                           "priority": "{'high': 'urgent', 'low': 'low'}.get(severity, 'normal')"},
                           {"ticket_id": 'result["ticket_id"]', "handler": 'result["owner"]', "team": 'result["team"]'})
    d.add("serviceTask", "open_complaint", "登记投诉工单", 1, body=body, **attrs)
    d.add("scriptTask", "set_deadlines", "按严重程度设定时限", 2, body=script(
        "level = 0\nhandle_within = {'high': 'PT4H', 'normal': 'PT24H', 'low': 'PT72H'}.get(severity, 'PT24H')"))
    _stage(d, "accept", "受理投诉", 3, "timeDuration", "PT30M",
           form(("accepted_note", "受理说明", "string", {"maxlength": 500}),))
    _stage(d, "analyse", "分析原因", 5, "timeDuration", "PT4H", form(
        ("root_cause", "根本原因", "enum", {"required": True, "values": [
            ("product", "产品质量"), ("service", "服务态度"), ("delivery", "交付延误"), ("billing", "费用问题"), ("other", "其他")]}),
        ("product", "相关产品", "string", {"maxlength": 200}), ("contract_id", "相关合同ID", "long", {"min": 1}),
        ("related_user", "相关员工", "string", {"maxlength": 100}), ("analysis", "分析说明", "string", {"maxlength": 2000})))
    d.add("exclusiveGateway", "severity_gw", "严重程度?", 7)
    body, attrs = external("notify", {"channel": "'managers'",
                                      "text": "f'【重大投诉】{subject}（工单 {ticket_id}），根因：{root_cause}'"})
    d.add("serviceTask", "alert_managers", "通知管理层(重大投诉)", 8, lane=2, row=0.9, body=body, **attrs)
    d.add("exclusiveGateway", "severity_join", "", 9)
    _stage(d, "handle", "处理投诉", 10, "timeDuration", "handle_within",
           form(("resolution", "处理结果", "string", {"required": True, "maxlength": 2000}),))
    body, attrs = external("update_ticket", {"ticket_id": "ticket_id", "status": "'resolved'"})
    d.add("serviceTask", "resolve_ticket", "工单已解决", 12, body=body, **attrs)
    d.add("userTask", "revisit", "回访客户并记录满意度", 13, lane=1, body=SURVEY,
          **{"camunda:assignee": "${handler}", "camunda:candidateGroups": "service"})
    body, attrs = external("record_survey", {"csat": "csat", "nps": "nps", "comment": "comment",
                                             "revisit": "'complaint'"})
    d.add("serviceTask", "save_survey", "记录满意度", 14, body=body, **attrs)
    body, attrs = external("record_outcome", {
        "kind": "'complaint'", "root_cause": "root_cause", "product": "product", "contract_id": "contract_id",
        "related_user": "related_user", "severity": "severity", "escalation_level": "level",
        "ticket_id": "ticket_id"})
    d.add("serviceTask", "save_outcome", "记录根因与关联", 15, body=body, **attrs)
    body, attrs = external("update_ticket", {"ticket_id": "ticket_id", "status": "'closed'"})
    d.add("serviceTask", "close_ticket", "关闭工单", 16, body=body, **attrs)
    d.add("endEvent", "complaint_closed", "投诉关闭", 17)
    d.chain("complaint_received", "open_complaint", "set_deadlines", "accept_join")
    d.chain("accept_taken", "analyse_join")
    d.flow("analyse_taken", "severity_gw")
    d.flow("severity_gw", "alert_managers", "重大", "severity == 'high'")
    d.flow("severity_gw", "severity_join", "一般", "severity != 'high'")
    d.chain("alert_managers", "severity_join", "handle_join")
    d.chain("handle_taken", "resolve_ticket", "revisit", "save_survey", "save_outcome", "close_ticket", "complaint_closed")
    return d


def renewal_reminder():
    d = Diagram("renewal_reminder", "续约提醒 Renewal reminders",
                lanes=[("Lane_system", "system"), ("Lane_sales", "sales"), ("Lane_supervisors", "supervisors")],
                messages=[("Message_contract_renewed", "contract renewed")])
    d.add("startEvent", "contract_signed", "合同签订", 0, body=form(
        ("contract_id", "合同编号 Contract id", "long", {"required": True}),
        ("contract_title", "合同名称 Contract title", "string"),
        ("end_date", "到期日 End date", "date", {"required": True}), ("amount", "金额 Amount", "double")))
    d.add("scriptTask", "plan", "计算提醒日期", 1, body=script(
        "end = datetime.fromisoformat(end_date)\n"
        "remind_60 = (end - timedelta(days=60)).isoformat()\n"
        "remind_30 = (end - timedelta(days=30)).isoformat()\n"
        "remind_7 = (end - timedelta(days=7)).isoformat()"))
    with d.subprocess("reminders", "续约跟进", lane=0):
        d.add("startEvent", "reminders_start", "", 2)
        d.add("intermediateCatchEvent", "minus_60", "到期前60天", 3, body=timer("timeDate", "remind_60"))
        body, attrs = external("create_opportunity", {"name": "f'续约：{contract_title}'", "amount": "amount"},
                               {"opportunity_id": 'result["opportunity_id"]', "owner": 'result["owner"]'})
        d.add("serviceTask", "renewal_opportunity", "创建续约商机", 4, body=body, **attrs)
        body, attrs = external("create_task_for", {"title": "f'跟进续约：{contract_title}'", "kind": "'renewal'",
                                                   "due": "'P30D'"})
        d.add("serviceTask", "renewal_task", "给负责人建任务", 5, body=body, **attrs)
        d.add("intermediateCatchEvent", "minus_30", "到期前30天", 6, body=timer("timeDate", "remind_30"))
        body, attrs = external("notify", {"channel": "'sales'",
                                          "text": "f'【续约提醒】{contract_title} 将于 {end_date} 到期（30天），负责人 {owner}'"})
        d.add("serviceTask", "remind_30_days", "30天提醒", 7, body=body, **attrs)
        d.add("intermediateCatchEvent", "minus_7", "到期前7天", 8, body=timer("timeDate", "remind_7"))
        body, attrs = external("escalate", {"stage": "'续约'", "level": "0", "agent": "owner",
                                            "subject": "f'续约 {contract_title}'"}, {"handler": 'result["handler"]'})
        d.add("serviceTask", "escalate_7_days", "7天提醒并升级主管", 9, body=body, **attrs)
        d.add("userTask", "supervisor_follow_up", "主管跟进续约", 10, lane=2,
              body=form(("renewal_outcome", "跟进结论", "enum", {"required": True, "values": [
                  ("renewing", "正在续约"), ("lost", "不再续约")]}), ("note", "备注", "string", {"maxlength": 500})),
              **{"camunda:assignee": "${handler}", "camunda:candidateGroups": "supervisors"})
        d.add("endEvent", "reminders_end", "", 11, lane=2)
        d.chain("reminders_start", "minus_60", "renewal_opportunity", "renewal_task", "minus_30", "remind_30_days",
                "minus_7", "escalate_7_days", "supervisor_follow_up", "reminders_end")
    d.boundary("renewed", "reminders", "合同已续约", message("Message_contract_renewed"), offset=0.9)
    body, attrs = external("record_outcome", {"kind": "'renewal'", "result": "'renewed'", "contract_id": "contract_id",
                                              "end_date": "end_date"})
    d.add("serviceTask", "record_renewed", "记录续约", 12, lane=1, row=0.6, body=body, **attrs)
    body, attrs = external("close_opportunity", {"opportunity_id": "opportunity_id", "stage": "'won'"})
    d.add("serviceTask", "close_renewal", "续约商机赢单", 13, lane=1, row=0.6, body=body, **attrs)
    d.add("endEvent", "renewed_end", "已续约", 14, lane=1, row=0.6)
    body, attrs = external("record_outcome", {"kind": "'renewal'", "result": "renewal_outcome",
                                              "contract_id": "contract_id", "end_date": "end_date"})
    d.add("serviceTask", "record_not_renewed", "记录结论", 12, lane=2, body=body, **attrs)
    d.add("endEvent", "expired_end", "到期未续约", 13, lane=2)
    d.chain("contract_signed", "plan", "reminders")
    d.flow("reminders", "record_not_renewed")
    d.chain("record_not_renewed", "expired_end")
    d.chain("renewed", "record_renewed", "close_renewal", "renewed_end")
    return d


def care_revisit():
    d = Diagram("care_revisit", "客户关怀回访 Care revisits",
                lanes=[("Lane_system", "system"), ("Lane_service", "service")])
    d.add("startEvent", "signed", "合同签订", 0, body=form(
        ("signed_on", "签订日期 Signed on", "date", {"required": True}), ("owner", "负责人 Owner", "string")))
    d.add("scriptTask", "plan", "回访计划", 1, body=script(
        "revisit_days = [7, 30, 90]\nrevisit_hour = 10\nrevisit_index = 0"))
    d.add("exclusiveGateway", "next_join", "", 2)
    d.add("scriptTask", "next_revisit", "下一次回访", 3, body=script(
        "revisit_day = revisit_days[revisit_index]\n"
        "revisit_at = (datetime.fromisoformat(signed_on[:10]) + timedelta(days=revisit_day, hours=revisit_hour))"
        ".isoformat()\nrevisit_index = revisit_index + 1"))
    d.add("intermediateCatchEvent", "wait", "到回访日", 4, body=timer("timeDate", "revisit_at"))
    d.add("userTask", "revisit", "满意度回访", 5, lane=1, body=SURVEY,
          **{"camunda:assignee": "${owner}", "camunda:candidateGroups": "service"})
    body, attrs = external("record_survey", {"csat": "csat", "nps": "nps", "comment": "comment",
                                             "revisit": "revisit_day"}, {"low_score": 'result["low"]'})
    d.add("serviceTask", "save_survey", "记录满意度", 6, body=body, **attrs)
    d.add("exclusiveGateway", "low_gw", "低分?", 7)
    body, attrs = external("start_process", {
        "process_key": "'complaint_escalation'",
        "variables": "{'subject': f'第{revisit_day}天回访低分：{comment or \"\"}', 'severity': 'normal', "
                     "'source': 'care_revisit'}"}, {"complaint_instance": 'result["instance_id"]'})
    d.add("serviceTask", "open_complaint", "发起投诉流程", 8, row=0.8, body=body, **attrs)
    d.add("exclusiveGateway", "low_join", "", 9)
    d.add("exclusiveGateway", "more_gw", "还有回访?", 10)
    d.add("endEvent", "done", "回访完成", 11)
    d.chain("signed", "plan", "next_join", "next_revisit", "wait", "revisit", "save_survey", "low_gw")
    d.flow("low_gw", "open_complaint", "低分", "low_score")
    d.flow("low_gw", "low_join", "正常", "not low_score")
    d.chain("open_complaint", "low_join", "more_gw")
    d.flow("more_gw", "next_join", "是", "revisit_index < len(revisit_days)")
    d.flow("more_gw", "done", "否", "revisit_index >= len(revisit_days)")
    return d


def service_ticket():
    d = Diagram("service_ticket", "服务工单 Service ticket",
                lanes=[("Lane_system", "system"), ("Lane_service", "service"), ("Lane_supervisors", "supervisors")])
    d.add("startEvent", "requested", "服务请求", 0, body=form(
        ("subject", "服务内容 Subject", "string", {"required": True, "maxlength": 500}),
        ("priority", "优先级 Priority", "enum", {"values": [("low", "低 low"), ("normal", "中 normal"),
                                                          ("high", "高 high"), ("urgent", "紧急 urgent")]})))
    body, attrs = external("open_ticket", {"kind": "'service'", "subject": "subject", "priority": "priority"},
                           {"ticket_id": 'result["ticket_id"]', "handler": 'result["owner"]', "team": 'result["team"]'})
    d.add("serviceTask", "open", "登记工单", 1, body=body, **attrs)
    d.add("userTask", "accept", "受理", 2, lane=1, body=form(("accepted_note", "受理说明", "string", {"maxlength": 500}),),
          **{"camunda:assignee": "${handler}", "camunda:candidateGroups": "service"})
    d.boundary("response_sla", "accept", "响应超时(2工作小时)", timer("timeDate", "working_hours_from_now(2)"), cancel=False)
    body, attrs = external("escalate", {"stage": "'响应'", "level": "0", "team": "team", "agent": "handler",
                                        "subject": "subject"})
    d.add("serviceTask", "response_breach", "响应超时升级", 2, lane=2, row=0.9, body=body, **attrs)
    d.add("endEvent", "response_breach_end", "已升级", 3, lane=2, row=0.9)
    body, attrs = external("update_ticket", {"ticket_id": "ticket_id", "status": "'in_progress'"})
    d.add("serviceTask", "start_work", "开始处理", 3, body=body, **attrs)
    with d.subprocess("resolve", "解决", lane=1):
        d.add("startEvent", "resolve_start", "", 4, lane=1)
        d.add("userTask", "analyse", "分析", 5, lane=1, body=form(("diagnosis", "诊断", "string", {"required": True}),),
              **{"camunda:assignee": "${handler}", "camunda:candidateGroups": "service"})
        d.add("userTask", "handle", "处理", 6, lane=1, body=form(("resolution", "处理结果", "string", {"required": True}),),
              **{"camunda:assignee": "${handler}", "camunda:candidateGroups": "service"})
        d.add("endEvent", "resolve_end", "", 7, lane=1)
        d.chain("resolve_start", "analyse", "handle", "resolve_end")
    d.boundary("resolution_sla", "resolve", "解决超时(2天)", timer("timeDuration", "P2D"), cancel=False)
    body, attrs = external("escalate", {"stage": "'解决'", "level": "0", "team": "team", "agent": "handler",
                                        "subject": "subject"})
    d.add("serviceTask", "resolution_breach", "解决超时升级", 6, lane=2, row=0.9, body=body, **attrs)
    d.add("endEvent", "resolution_breach_end", "已升级", 7, lane=2, row=0.9)
    body, attrs = external("update_ticket", {"ticket_id": "ticket_id", "status": "'resolved'"})
    d.add("serviceTask", "resolved", "工单已解决", 9, body=body, **attrs)
    d.add("userTask", "revisit", "回访", 10, lane=1, body=SURVEY,
          **{"camunda:assignee": "${handler}", "camunda:candidateGroups": "service"})
    body, attrs = external("record_survey", {"csat": "csat", "nps": "nps", "comment": "comment",
                                             "revisit": "'service_ticket'"})
    d.add("serviceTask", "save_survey", "记录满意度", 11, body=body, **attrs)
    body, attrs = external("update_ticket", {"ticket_id": "ticket_id", "status": "'closed'"})
    d.add("serviceTask", "close", "关闭工单", 12, body=body, **attrs)
    d.add("endEvent", "closed", "已关闭", 13)
    d.chain("requested", "open", "accept", "start_work", "resolve", "resolved", "revisit", "save_survey", "close",
            "closed")
    d.chain("response_sla", "response_breach", "response_breach_end")
    d.chain("resolution_sla", "resolution_breach", "resolution_breach_end")
    return d


def _daily_sweep(process_id, name, task_name, body, attrs=None):
    """A timer start event every day, one service task, an end: the shape of every watch and sweep."""
    d = Diagram(process_id, name)
    d.add("startEvent", "daily", "每天", 0, body=timer("timeCycle", "R/P1D"))
    d.add("serviceTask", "sweep", task_name, 1, body=body, **(attrs or {}))
    d.add("endEvent", "done", "", 2)
    d.chain("daily", "sweep", "done")
    return d


def checkin_watch():
    return _daily_sweep("checkin_watch", "外勤服务监控 Field service watch", "检查未打卡与负面反馈", spiff_operator(
        "checkin_watch", {"days": "3", "negative_share": "0.05", "window_days": "1", "channel": "'supervisors'"},
        "watch"))


def churn_watch():
    body, attrs = external("churn_watch", {"days": "30", "penalty": "20"}, {"churn": "result"})
    return _daily_sweep("churn_watch", "流失预警 Churn watch", "检查长期未互动客户", body, attrs)


def pool_recycle():
    body, attrs = external("recycle_pool", {"warn_due": "P2D"}, {"pool": "result"})
    return _daily_sweep("pool_recycle", "公海回收 Public pool recycling", "回收长期未跟进客户", body, attrs)


DIAGRAMS = [followup_task, lead_assignment, complaint_escalation, renewal_reminder, care_revisit, service_ticket,
            checkin_watch, churn_watch, pool_recycle]

if __name__ == "__main__":
    for make in DIAGRAMS:
        diagram = make()
        (HERE / f"{diagram.process_id}.bpmn").write_text(diagram.xml(), encoding="utf-8")
        print(f"wrote {diagram.process_id}.bpmn")
