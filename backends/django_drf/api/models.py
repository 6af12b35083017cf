"""The suite's shared schema (backends/schema.sql), mapped; the role creates the tables."""

from django.db import models


class User(models.Model):
    id = models.BigIntegerField(primary_key=True)
    username = models.TextField(unique=True)
    email = models.TextField()
    full_name = models.TextField()
    age = models.IntegerField()
    created_at = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "users"


class Post(models.Model):
    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(User, on_delete=models.DO_NOTHING, db_constraint=False)
    title = models.TextField()
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        managed = False
        db_table = "posts"
