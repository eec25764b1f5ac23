/* api_user.c: the current user, and the health check. */
#include <json-c/json.h>

#include "patgate.h"

void
api_user_show(struct ctx *c)
{
	struct user_rec	 u;
	char		 when[21];

	switch (store_user_get(c->app->store, c->who.user_id, &u)) {
	case STORE_OK:
		break;
	case STORE_NOTFOUND:
		/* The session outlived its user. */
		response_unauthenticated(c->res, 1);
		return;
	default:
		response_storage_error(c->res);
		return;
	}
	valid_time_format(u.created_at, when);
	c->res->status = 200;
	c->res->body = json_object_new_object();
	json_object_object_add(c->res->body, "id",
	    json_object_new_string(u.id));
	json_object_object_add(c->res->body, "name",
	    json_object_new_string(u.name));
	json_object_object_add(c->res->body, "email",
	    json_object_new_string(u.email));
	json_object_object_add(c->res->body, "created_at",
	    json_object_new_string(when));
}

void
api_health(struct ctx *c)
{
	static const char *const roles[] = {
		[REPL_SINGLE] = "single", [REPL_UNKNOWN] = "unknown",
		[REPL_MASTER] = "master", [REPL_REPLICA] = "replica",
	};
	struct repl_state rs;

	store_repl_state(c->app->store, &rs);
	/* A site that knows no role takes no traffic. */
	if (c->app->store == NULL || store_ping(c->app->store) != STORE_OK ||
	    rs.role == REPL_UNKNOWN) {
		c->res->status = 503;
		c->res->body = json_object_new_object();
		json_object_object_add(c->res->body, "status",
		    json_object_new_string("unavailable"));
		if (rs.role != REPL_SINGLE)
			json_object_object_add(c->res->body, "role",
			    json_object_new_string(roles[rs.role]));
		response_header(c->res, "Retry-After", "5");
		return;
	}
	c->res->status = 200;
	c->res->body = json_object_new_object();
	json_object_object_add(c->res->body, "status",
	    json_object_new_string("ok"));
	/* A load balancer routes writes by role ("single": no replication). */
	json_object_object_add(c->res->body, "role",
	    json_object_new_string(roles[rs.role]));
}
