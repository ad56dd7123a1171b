package directory

import (
	"context"
	"slices"

	"suiji/backend"
)

// contactFields are the enterprise fields that reach a person: who
// represents it, who answers for its safety, and how to call them. They are
// personal data, so the directory shows them only to those whose work needs
// them (see MayReadContacts).
var contactFields = []string{"legal_representative", "safety_manager", "phone"}

// MayReadContacts reports whether the actor may read every enterprise's
// contact fields: the bureau's coordinators, departments' staff and
// leaders, who keep and use the directory. An inspector needs the contacts
// only of the enterprises their own group inspects; they see those through
// Service.ContactsForTask (wired by whatever keeps tasks), never by paging
// the directory.
func MayReadContacts(a *backend.Actor) bool {
	return a.HasAnyRole(backend.RoleCoordinator, backend.RoleStaff, backend.RoleLeader)
}

// mayReadContactsOf reports whether the actor in ctx may read the contacts
// of enterprise id: MayReadContacts, or the ContactsForTask hook says its
// tasks need them.
func (s *Service) mayReadContactsOf(ctx context.Context, id string) (bool, error) {
	a := backend.ActorFromContext(ctx)
	if MayReadContacts(a) {
		return true, nil
	}
	if s.ContactsForTask == nil || a.UserID == "" {
		return false, nil
	}
	return s.ContactsForTask(ctx, a.UserID, id)
}

// withoutContacts returns a copy of e with its contact fields empty.
func withoutContacts(e *backend.Enterprise) *backend.Enterprise {
	c := *e
	c.LegalRepresentative, c.SafetyManager, c.Phone = "", "", ""
	return &c
}

// changesWithoutContacts drops the contact fields from a version's changes.
func changesWithoutContacts(v *backend.Version) *backend.Version {
	c := *v
	c.Changes = slices.DeleteFunc(slices.Clone(v.Changes), func(fc backend.FieldChange) bool {
		return slices.Contains(contactFields, fc.Field)
	})
	return &c
}
