"""The GraphQL documents of each workload: Outbound's (the contract) and PostGraphile's equivalents."""

from __future__ import annotations

from typing import Any

OVERVIEW = """query Overview($id: ID!) { campaign(id: $id) {
  id name status
  stats {
    campaignId version updatedAt
    allChannels { totalContacts started contacted replied positive }
    linkedin { engaged invited accepted contacted replied positive }
    email { sent clicked replied positive bounced }
    tasks { pending completed }
    statuses { status count }
    substatuses { status substatus count }
    steps { stepId leadCount }
  }
  sequence { id position type channel parentStepId branch delay { totalSeconds } leadCount }
} }"""

AUDIENCE = """query Audience($id: ID!, $status: LeadStatus, $substatus: LeadSubstatus, $after: String) {
  campaign(id: $id) {
    audience(filter: {status: $status, substatus: $substatus}, first: 50, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes {
        id status substatus positive nextActionAt addedAt
        contact { id firstName lastName email company title }
        currentStep { id position type }
      }
    }
  }
}"""

ACTIVITY = """query Activity($id: ID!, $after: String) { campaign(id: $id) {
  activity(first: 50, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id kind channel occurredAt detail
      lead { id status }
      contact { id firstName lastName }
      step { id position type }
    }
  }
} }"""

SIDE_PANEL = """query Lead($id: ID!) { lead(id: $id) {
  id status substatus positive nextActionAt addedAt startedAt finishedAt repliedAt
  error { substatus message hint occurredAt }
  contact { id firstName lastName email linkedinUrl company title }
  currentStep { id position type }
  campaign { id name }
  timeline { id kind channel occurredAt detail step { id position type } }
} }"""

# PostGraphile 5 (amber preset) over the same tables. It has no tenancy or API-key check: it reads what
# the connection role can read, so it does strictly less work than Outbound per request.
PGL_AUDIENCE = """query Audience($campaignId: BigInt!, $status: String, $substatus: String, $after: Cursor) {
  allLeads(condition: {campaignId: $campaignId, status: $status, substatus: $substatus, removedAt: null},
           first: 50, after: $after, orderBy: PRIMARY_KEY_ASC) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id rowId status substatus positive nextActionAt addedAt
      contactByContactId { id firstName lastName email company title }
      sequenceStepByCurrentStepId { id position type }
    }
  }
}"""

PGL_ACTIVITY = """query Activity($campaignId: BigInt!, $after: Cursor) {
  allActivities(condition: {campaignId: $campaignId}, first: 50, after: $after,
                orderBy: [OCCURRED_AT_DESC, PRIMARY_KEY_DESC]) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id rowId kind channel occurredAt detail
      leadByLeadId { id status }
      contactByContactId { id firstName lastName }
      sequenceStepByStepId { id position type }
    }
  }
}"""

#: The Audience filter every audience workload uses (about 14% of a campaign's leads).
AUDIENCE_STATUS = ("IN_PROGRESS", "SCHEDULED")


def body(query: str, **variables: Any) -> dict[str, Any]:
    return {"query": query, "variables": variables}


def dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
