package dashboard

import (
	"net/http"
	"strings"

	"github.com/keyward/keyward/internal/keyward"
)

// projectsData is the projects page: each project with its environments.
type projectsData struct {
	Projects []projectRow
}

type projectRow struct {
	*keyward.Project
	Environments []*keyward.Environment
}

func (d *Dashboard) projectsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	d.renderProjects(w, r, v, http.StatusOK, "")
}

func (d *Dashboard) renderProjects(w http.ResponseWriter, r *http.Request, v *visit, status int, problem string) {
	projects, _, err := d.svc.ListProjects(r.Context(), v.p, keyward.Page{Limit: 200})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	data := projectsData{}
	for _, p := range projects {
		envs, _, _ := d.svc.ListEnvironments(r.Context(), v.p, p.ID, keyward.Page{Limit: 100})
		data.Projects = append(data.Projects, projectRow{Project: p, Environments: envs})
	}
	d.render(w, r, status, "projects", page{Title: "Projects", Visit: v, Error: problem, Data: data})
}

func (d *Dashboard) createProject(w http.ResponseWriter, r *http.Request, v *visit) {
	_, err := d.svc.CreateProject(r.Context(), v.p, keyward.CreateProjectInput{
		Name: strings.TrimSpace(r.PostFormValue("name")), KeyPrefix: strings.TrimSpace(r.PostFormValue("key_prefix")),
	})
	d.afterProjectChange(w, r, v, err)
}

func (d *Dashboard) createEnvironment(w http.ResponseWriter, r *http.Request, v *visit) {
	_, err := d.svc.CreateEnvironment(r.Context(), v.p, r.PathValue("id"), strings.TrimSpace(r.PostFormValue("name")))
	d.afterProjectChange(w, r, v, err)
}

// afterProjectChange goes back to the projects page, with the refusal when there was one.
func (d *Dashboard) afterProjectChange(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	if err == nil {
		http.Redirect(w, r, Prefix+"projects", http.StatusSeeOther)
		return
	}
	if statusOf(err) >= 500 {
		d.fail(w, r, err)
		return
	}
	d.renderProjects(w, r, v, statusOf(err), message(err))
}

// membersData is a project's members page.
type membersData struct {
	Project *keyward.Project
	Members []memberRow
	Roles   []*keyward.Role
	Users   []*keyward.User
}

type memberRow struct {
	*keyward.Membership
	Who, Role string
}

func (d *Dashboard) membersPage(w http.ResponseWriter, r *http.Request, v *visit) {
	d.renderMembers(w, r, v, http.StatusOK, "")
}

func (d *Dashboard) renderMembers(w http.ResponseWriter, r *http.Request, v *visit, status int, problem string) {
	proj, err := d.svc.Project(r.Context(), v.p, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	ms, _, err := d.svc.Members(r.Context(), v.p, proj.ID, keyward.Page{Limit: 200})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	roles, _, _ := d.svc.ListRoles(r.Context(), v.p, keyward.Page{Limit: 200})
	users, _, _ := d.svc.ListUsers(r.Context(), v.p, keyward.Page{Limit: 200})
	roleNames := map[string]string{}
	for _, ro := range roles {
		roleNames[ro.ID] = ro.Name
	}
	userNames := map[string]string{}
	for _, u := range users {
		userNames[u.ID] = u.Email
	}
	data := membersData{Project: proj, Roles: roles, Users: users}
	for _, m := range ms {
		row := memberRow{Membership: m, Role: roleNames[m.RoleID]}
		switch {
		case m.UserID != "":
			row.Who = "user " + userNames[m.UserID]
		default:
			row.Who = "key " + m.KeyID[:8]
		}
		data.Members = append(data.Members, row)
	}
	d.render(w, r, status, "members", page{Title: "Members of " + proj.Name, Visit: v, Error: problem, Data: data})
}

func (d *Dashboard) addMember(w http.ResponseWriter, r *http.Request, v *visit) {
	_, err := d.svc.AddMember(r.Context(), v.p, r.PathValue("id"), keyward.AddMemberInput{
		UserID: r.PostFormValue("user_id"), RoleID: r.PostFormValue("role_id"),
	})
	d.afterMemberChange(w, r, v, err)
}

func (d *Dashboard) changeMember(w http.ResponseWriter, r *http.Request, v *visit) {
	var err error
	if r.PostFormValue("remove") == "1" {
		err = d.svc.RemoveMember(r.Context(), v.p, r.PathValue("id"), r.PathValue("member"))
	} else {
		_, err = d.svc.UpdateMember(r.Context(), v.p, r.PathValue("id"), r.PathValue("member"), r.PostFormValue("role_id"))
	}
	d.afterMemberChange(w, r, v, err)
}

func (d *Dashboard) afterMemberChange(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	if err == nil {
		http.Redirect(w, r, Prefix+"projects/"+r.PathValue("id")+"/members", http.StatusSeeOther)
		return
	}
	if statusOf(err) >= 500 || statusOf(err) == http.StatusNotFound {
		d.fail(w, r, err)
		return
	}
	d.renderMembers(w, r, v, statusOf(err), message(err))
}
