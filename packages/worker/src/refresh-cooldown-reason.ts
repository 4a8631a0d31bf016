/** The proactive refresher's cool-downs carry a reason starting with this; others are left alone. */
export const refreshCooldownReasonPrefix = "token refresh failing:";
