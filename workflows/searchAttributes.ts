// Search attributes for operators. Ids only: values are stored unencrypted and bypass payload codecs.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA = {
  adminId: defineSearchAttributeKey('CalendarSyncAdminId', SearchAttributeType.KEYWORD),
  state: defineSearchAttributeKey('CalendarSyncState', SearchAttributeType.KEYWORD),
  provider: defineSearchAttributeKey('CalendarSyncProvider', SearchAttributeType.KEYWORD),
};

export const SEARCH_ATTRIBUTE_FLAGS = Object.values(SA).map((k) => `${k.name}=Keyword`);
